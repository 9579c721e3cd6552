"""A definition nested too deeply to resolve (400 calls inside one another) is refused at its own
line and column, not at 1:1 of the file."""
from tensorcalc.cli import main


def test_a_deeply_nested_definition_is_refused_at_its_line(tmp_path, capsys):
    deep = "x"
    for _ in range(400):
        deep = f"sin({deep})"
    path = tmp_path / "nest.yaml"
    path.write_text(f"tensorcalc: 1\ndims: {{n: 2}}\ntensors: {{x: vector(n)}}\nforward:\n  f: sum({deep})\n"
                    "claims:\n  - d f / d x = x^T\n")
    assert main(["check", str(path)]) == 2
    out = capsys.readouterr().out
    assert f"{path}:5:6: expression nested too deeply" in out, out
