"""Staff pages for managing surveys (create, edit, duplicate, open/close, import, download)."""
