"""The policy commands end to end, through typer's runner."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from schoolmode.cli.app import app
from tests.conftest import FIXTURES, POLICIES

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(
        app,
        ["policy", *args, "--policies", str(POLICIES)]
        if args[0] in ("list", "show", "explain", "diff")
        else ["policy", *args],
    )
    return result.exit_code, result.output


def test_list_shows_all_eighteen_policies() -> None:
    code, out = invoke("list")
    assert code == 0
    assert "20 policies" in out
    assert "cps-ctu-2022-01-10" in out
    assert "cambridge-2020-11-12" in out


def test_test_runs_every_case_and_passes() -> None:
    code, out = invoke("test", str(POLICIES))
    assert code == 0, out
    assert " 0 failed" in out


def test_test_one_case_file() -> None:
    code, out = invoke(
        "test", str(POLICIES / "cps-ctu-2022-01-10" / "cases" / "teacher-absences.yaml")
    )
    assert code == 0, out
    assert "passed, 0 failed" in out


def test_test_fails_with_exit_1_on_a_wrong_expectation(tmp_path: Path) -> None:
    import shutil

    target = tmp_path / "policies"
    shutil.copytree(POLICIES / "cps-ctu-2022-01-10", target / "cps-ctu-2022-01-10")
    case = target / "cps-ctu-2022-01-10" / "cases" / "teacher-absences.yaml"
    case.write_text(
        case.read_text(encoding="utf-8").replace(
            "{unit: X, date: 2022-01-25, status: eligible_for_remote",
            "{unit: X, date: 2022-01-25, status: in_person",
        ),
        encoding="utf-8",
    )
    code, out = invoke("test", str(target))
    assert code == 1
    assert "FAIL" in out
    assert "cps22-teacher-absence-exactly-30" in out
    assert "expected status in_person, got eligible_for_remote" in out


def test_verbose_names_the_policy_case_and_reading_of_every_variant() -> None:
    code, out = invoke("test", str(POLICIES), "--verbose")
    assert code == 0, out
    lines = [line for line in out.splitlines() if line.startswith("PASS ")]
    assert len(lines) == len(set(lines)), "two variants printed alike"
    assert "PASS cambridge-2020-11-12 :: cambridge-real-dec-2020 (default readings)" in lines
    assert "PASS cambridge-2020-11-12 :: cambridge-real-dec-2020 (reading as-applied)" in lines


def test_a_case_id_used_in_two_files_is_an_error_naming_both(tmp_path: Path) -> None:
    import shutil

    target = tmp_path / "policies"
    for policy in ("cps-ctu-2022-01-10", "cambridge-2020-11-12"):
        shutil.copytree(POLICIES / policy, target / policy)
    first = target / "cps-ctu-2022-01-10" / "cases" / "teacher-absences.yaml"
    copy = target / "cambridge-2020-11-12" / "cases" / "copied.yaml"
    copy.write_text(first.read_text(encoding="utf-8"), encoding="utf-8")
    code, out = invoke("test", str(target))
    assert code != 0
    flat = " ".join(out.split())
    assert "is already used by" in flat
    assert "copied.yaml" in flat
    assert "teacher-absences.yaml" in flat


def test_show_lists_parameters_with_sources() -> None:
    code, out = invoke("show", "cps-ctu-2022-01-10")
    assert code == 0
    assert "teacher_absence_share_pct" in out
    assert "substancenews" in out
    assert "consecutive_days_unit" in out


def test_explain_a_case_in_plain_language() -> None:
    code, out = invoke(
        "explain", "cps-ctu-2022-01-10", "--case", "cps22-teacher-absence-brief-example"
    )
    assert code == 0, out
    assert (
        'On Wednesday 19 January 2022, school X is eligible for "Remote learning" because share '
        "of classroom teachers absent was 30.0% (12 of 40)."
    ) in " ".join(out.split())
    assert "Tuesday 18 January 2022: 32.5%, 13 of 40 (met)" in out
    assert "Wednesday 19 January 2022: 25.0%, 10 of 40 (met)" in out
    assert "CPS Tactical Team" in out
    assert "substancenews.net" in out


def test_explain_when_no_rule_fired() -> None:
    code, out = invoke(
        "explain",
        "cps-ctu-2021-02-06",
        "--case",
        "moa21-real-march-2021-trend-only",
        "--scope",
        "district",
        "--unit",
        "chicago",
        "--date",
        "2021-03-26",
    )
    assert code == 0, out
    assert 'the mode for district chicago is "In person" because no rule was met.' in out
    assert "test positivity over 7 days 4.43% is not at least 10.0%" in out
    assert "level_threshold_pct" not in out  # parameters are named in --technical only


def test_explain_a_case_that_says_a_scope_has_no_rule() -> None:
    """A case's ``no_rule`` expectation names no unit-day to explain: the other ones are."""
    code, out = invoke("explain", "cps-lbfo-2021-02-04", "--case", "lbfo-50pct-buildings")
    assert code == 0, out
    assert "district D260" in out
    assert "classroom any" not in out


def test_explain_technical_names_parameters_and_readings() -> None:
    code, out = invoke(
        "explain",
        "cps-ctu-2021-02-06",
        "--case",
        "moa21-real-march-2021-trend-only",
        "--scope",
        "district",
        "--unit",
        "chicago",
        "--date",
        "2021-03-26",
        "--technical",
    )
    assert code == 0, out
    assert "District chicago on Friday 26 March 2021: in person." in out
    assert "No rule of this policy was met" in out
    assert "positivity 7d pct 4.43 is not at least 10.0%" in out
    assert "level_threshold_pct = 10.0 (set for this evaluation)" in out
    assert "reading: level_applies_to = evaluation_day" in out


def test_explain_unknown_case_says_which_exist() -> None:
    code, out = invoke("explain", "cps-ctu-2022-01-10", "--case", "nope")
    assert code == 2
    assert "has no case 'nope'" in out
    assert "cps22-teacher-absence-exactly-30" in out


def test_diff_shows_the_thresholds_that_differ() -> None:
    code, out = invoke("diff", "ctu-proposal-2022-01-08", "cps-ctu-2022-01-10")
    assert code == 0, out
    assert "staff_share_pct" in out
    assert "teacher_absence_share_pct" in out
    assert "25% from 2022-01-10" in out
    assert "30% from 2022-01-11" in out


def test_unknown_policy_suggests_a_close_id() -> None:
    code, out = invoke("show", "cps-ctu-2022-01-11")
    assert code == 4  # an unknown id (docs/exit-codes.md)
    assert "No policy with id 'cps-ctu-2022-01-11'" in out
    assert "Did you mean" in out


def test_validate_reports_problems_and_exit_code() -> None:
    code, out = invoke("validate", str(FIXTURES / "malformed" / "bad_comparator.yaml"))
    assert code == 1
    assert "bad_comparator.yaml:43" in out
    code, out = invoke("validate", str(POLICIES))
    assert code == 0, out
    assert "file(s) valid" in out


def test_explain_says_what_would_change_it() -> None:
    code, out = invoke(
        "explain", "cps-ctu-2022-01-10", "--case", "cps22-teacher-absence-brief-example"
    )
    assert code == 0, out
    assert "What would change it:" in out
    assert "12 of 40 now; 11 of 40 or fewer would be under 30.0% (1 fewer)" in out
    assert "10 of 40 now; 9 of 40 or fewer would be under 25.0% (1 fewer)" in out


def test_test_marks_a_counterfactual_variant_and_counts_it() -> None:
    code, out = invoke(
        "test", str(POLICIES / "cps-ctu-2021-02-06" / "cases" / "counterfactual.yaml"), "--verbose"
    )
    assert code == 0, out
    assert (
        "PASS cps-ctu-2021-02-06 :: moa21-counterfactual-december-2021 (default readings; "
        "counterfactual: applied outside its term (2021-02-11 to 2021-08-24))"
    ) in out
    assert "PASS cps-ctu-2021-02-06 :: moa21-expired-december-2021 (default readings)" in out
    assert "1 applied outside their policy's term on request" in out


def test_test_fails_a_case_expecting_a_trigger_outside_the_term(tmp_path: Path) -> None:
    import shutil

    target = tmp_path / "policies"
    shutil.copytree(POLICIES / "cps-ctu-2021-02-06", target / "cps-ctu-2021-02-06")
    case = target / "cps-ctu-2021-02-06" / "cases" / "counterfactual.yaml"
    case.write_text(
        case.read_text(encoding="utf-8").replace("    apply: counterfactual\n", ""),
        encoding="utf-8",
    )
    code, out = invoke("test", str(target))
    assert code == 1
    flat = " ".join(out.split())
    assert "FAIL cps-ctu-2021-02-06 :: moa21-counterfactual-december-2021" in flat
    assert (
        "case moa21-counterfactual-december-2021: 2021-12-13 is outside the term of policy "
        "cps-ctu-2021-02-06 (2021-02-11 to 2021-08-24)"
    ) in flat
    assert "add `apply: counterfactual`" in flat
