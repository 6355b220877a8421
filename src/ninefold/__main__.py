"""Allow ``python -m ninefold``."""

from ninefold.cli.main import main

if __name__ == "__main__":
    main()
