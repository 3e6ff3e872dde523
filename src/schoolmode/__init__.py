"""schoolmode: decide, explain and publish whether each classroom, school and district
learns in person or remotely, by health metrics a district and its teachers' union agreed on."""

__version__ = "0.1.0"
