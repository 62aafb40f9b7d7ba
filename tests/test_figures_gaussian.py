"""``collapse-theory figure drift`` writes the 1-D drift figure."""

from collapse_theory.cli import main


def test_drift_figure_writes_png(tmp_path, capsys):
    out = tmp_path / "drift.png"
    argv = ["figure", "drift", "--out", str(out), "--generations", "20", "--trials", "40",
            "--sample-sizes", "3000", "--seed", "3"]
    assert main(argv) == 0
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    assert capsys.readouterr().out.strip() == f"wrote {out}"


def test_drift_figure_rejects_bad_input_without_writing(tmp_path, capsys):
    out = tmp_path / "drift.png"
    assert main(["figure", "drift", "--out", str(out), "--sample-sizes", "100,1"]) == 2
    assert "sample_sizes" in capsys.readouterr().err and not out.exists()
