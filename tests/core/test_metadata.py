"""Package metadata: the MIT LICENSE the README promises, a CITATION.cff for kdlib and the paper,
and project URLs that agree with the book's repository."""
from __future__ import annotations

import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_license_is_mit_as_the_readme_says():
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License") and "Permission is hereby granted, free of charge" in text
    assert "Code: MIT" in (ROOT / "README.md").read_text()
    assert tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["license"] == {"text": "MIT"}


def test_citation_cff_names_the_package_and_the_paper():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert cff["cff-version"] == "1.2.0" and cff["message"] and cff["authors"]
    assert cff["type"] == "software" and cff["license"] == "MIT"
    assert str(cff["version"]) == project["version"]
    assert cff["repository-code"] == project["urls"]["Repository"]
    (paper,) = cff["references"]
    assert paper["type"] == "article" and paper["year"] == 2020
    assert paper["title"] == "Improving Efficient Neural Ranking Models with Cross-Architecture Knowledge Distillation"
    assert [a["family-names"] for a in paper["authors"]] == ["Hofstätter", "Althammer", "Schröder", "Sertkan",
                                                             "Hanbury"]
    assert {i["value"] for i in paper["identifiers"]} >= {"arXiv:2010.02666"}


def test_project_urls_point_at_the_books_repository():
    urls = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]
    book = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert urls["Repository"] == book["repository"]["url"]
    assert urls["Paper"] == "https://arxiv.org/abs/2010.02666"
