"""The admin API under /admin/v1: JSON, bearer tokens with roles, one error shape."""
