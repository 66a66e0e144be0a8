"""Issue values and helpers."""

from pgflex_gui.domain.issues import Issue, Severity, error, errors, has_errors, info, warning


def test_helpers_build_each_severity_and_only_errors_block() -> None:
    e, w, i = error("f", "bad", "fix it"), warning("f", "hm"), info("f", "fyi")
    assert (e.severity, w.severity, i.severity) == (Severity.ERROR, Severity.WARNING, Severity.INFO)
    assert e.blocks
    assert not w.blocks
    assert not i.blocks
    assert has_errors([w, e])
    assert not has_errors([w, i])
    assert not has_errors([])
    assert errors([w, e, i]) == [e]
    assert str(e) == "bad fix it"
    assert str(w) == "hm"


def test_issue_is_a_frozen_value() -> None:
    assert Issue(Severity.INFO, "a", "b") == info("a", "b")
    assert len({info("a", "b"), info("a", "b")}) == 1
