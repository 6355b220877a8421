"""ninefold.audit: who changed what, when, captured from every ORM flush."""
