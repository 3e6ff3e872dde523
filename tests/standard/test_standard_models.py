from pathlib import Path

import pytest
from pydantic import ValidationError

from schoolmode.standard import RECORD_TYPES, record_type
from schoolmode.standard.batch import FileValidationError, RowError
from schoolmode.standard.docs import expected_files, stale_files, write
from schoolmode.standard.fields import field_specs
from schoolmode.standard.models import Person, School

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", sorted(RECORD_TYPES))
def test_every_field_and_record_type_is_described(name: str) -> None:
    model = RECORD_TYPES[name]
    assert (model.__doc__ or "").strip(), f"{name} has no docstring"
    missing = [f.name for f in field_specs(model) if len(f.description.strip()) < 5]
    assert missing == [], f"{name}: fields without a description: {missing}"


@pytest.mark.parametrize("name", sorted(RECORD_TYPES))
def test_natural_key_names_real_required_fields(name: str) -> None:
    model = RECORD_TYPES[name]
    specs = {f.name: f for f in field_specs(model)}
    assert model.natural_key
    for key in model.natural_key:
        assert key in specs, f"{name}: key field {key} is not a field"
        assert specs[key].required, f"{name}: key field {key} is optional"


def test_committed_docs_match_the_models() -> None:
    stale = stale_files(REPO / "docs")
    assert stale == [], (
        f"generated docs are stale: {stale}; run `uv run python -m schoolmode.standard.docs`"
    )


def test_stale_check_detects_an_edit_and_a_leftover(tmp_path: Path) -> None:
    write(tmp_path)
    assert stale_files(tmp_path) == []
    doc = tmp_path / "data-standard.md"
    doc.write_text(doc.read_text() + "hand edit\n")
    (tmp_path / "schemas" / "removed_type.json").write_text("{}")
    assert stale_files(tmp_path) == ["data-standard.md", "schemas/removed_type.json"]
    assert len(expected_files()) == len(RECORD_TYPES) + 1


def test_people_cannot_carry_names() -> None:
    with pytest.raises(ValidationError, match="extra"):
        Person.model_validate({"person_id": "p1", "role": "student", "name": "Ann"})


def test_models_validate_types_and_bounds() -> None:
    row = {
        "school_id": "610067",
        "school_year": "2021-2022",
        "district_id": "CPS",
        "name": "Francis M McKay Elementary School",
        "level": "ES",
        "grades": "PK,K,1,2,3,4,5,6,7,8",
        "latitude": 41.768143,
        "longitude": -87.691787,
        "enrolment": 623,
    }
    assert School.model_validate(row).enrolment == 623
    with pytest.raises(ValidationError, match="enrolment"):
        School.model_validate({**row, "enrolment": -1})
    with pytest.raises(ValidationError, match="level"):
        School.model_validate({**row, "level": "college"})


def test_record_type_lookup_names_known_types() -> None:
    assert record_type("absence").natural_key == ("person_id", "date")
    with pytest.raises(KeyError, match="known: absence"):
        record_type("nope")


def test_an_error_shows_a_long_value_cut_with_its_length(tmp_path: Path) -> None:
    """A 10 MB field is named with its first characters and its length, not echoed whole."""
    from schoolmode.importers.cdph import DailyTesting
    from tests.conftest import FIXTURE_DATA

    lines = (FIXTURE_DATA / DailyTesting.default_files[0]).read_text().splitlines()
    cells = lines[1].split(",")
    cells[2] = "9" * 10_000_000  # Positive Tests
    path = tmp_path / "testing.csv"
    path.write_text(lines[0] + "\n" + ",".join(cells) + "\n")
    with pytest.raises(FileValidationError) as error:
        DailyTesting().parse(path)
    message = str(error.value)
    assert len(message) < 2_000
    assert "(10,000,000 characters)" in message
    assert "'Positive Tests'" in message
    short = RowError("f.csv", 3, "x", "abc", "a number")
    assert str(short) == "f.csv: data row 3, field 'x': value 'abc'; expected a number"
