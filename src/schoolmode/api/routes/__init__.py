"""The API's resources, one module per group; each route declares its permission."""
