"""The store: SQLAlchemy tables derived from the data standard, migrations, imports."""
