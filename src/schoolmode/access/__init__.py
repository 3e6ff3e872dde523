"""Who may do what: roles, scopes and permissions, accounts and tokens, the access log."""
