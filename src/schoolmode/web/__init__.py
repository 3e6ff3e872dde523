"""The dashboard (faces floor): server-rendered pages in the same application as the API
(``site.create_site``), Jinja2 templates in English and Spanish, a stylesheet of its own; no
page loads anything from another site."""
