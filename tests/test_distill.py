"""`tmr distill`: a student text encoder learns the teacher's text latents; the motion side is the teacher's."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from model import load_retriever
from model.checkpoint import load_checkpoint
from model.config import TMRConfig
from model.corpus import read_caption_table
from model.datasets import DatasetError
from model.distill import DistillConfig, student_text_encoder, distill_text_side, read_sentence_file
from model.network import TMR
from tmrcli.app import app
from tmrcli.jobs.distillation import DistillRequest, distillation_sentences, run_distillation
from tmrcli.jobs.evaluation import read_queries

QUERIES = Path(__file__).parent / "data" / "val_queries.tsv"


@pytest.fixture(scope="module")
def captions() -> list[str]:
    """The shipped content captions: real motion descriptions, none of them a validation phrasing."""
    return [text for texts in read_caption_table()["content"].values() for text in texts]


@pytest.fixture(scope="module")
def distilled(captions: list[str], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """The shipped model distilled onto the same backbone through a fresh input projection, via the CLI."""
    folder = tmp_path_factory.mktemp("distill")
    (folder / "sentences.txt").write_text("\n".join(captions) + "\n")
    result = CliRunner().invoke(
        app,
        ["distill", "default", "--sentences", str(folder / "sentences.txt"), "-o", str(folder / "student.safetensors"),
         "--epochs", "8", "--batch-size", "16", "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return folder / "student.safetensors", result.stdout.splitlines()


def test_student_starts_from_the_teacher_layers_behind_a_fresh_projection() -> None:
    torch.manual_seed(0)
    teacher = TMR(TMRConfig(text_width=768, num_layers=2, latent_dim=32, ff_size=64))
    student = student_text_encoder(teacher, 384)
    assert student.projection.in_features == 384
    for name, value in student.state_dict().items():
        if not name.startswith("projection."):
            assert torch.equal(value, teacher.text_encoder.state_dict()[name]), name


def test_agreement_with_the_teacher_grows_over_the_epochs(distilled: tuple[Path, list[str]]) -> None:
    _, lines = distilled
    reports = [json.loads(line) for line in lines]
    assert [r["epoch"] for r in reports] == list(range(1, 9))
    # A random projection starts far from the teacher; learning has to close the gap on unseen sentences.
    assert reports[-1]["agreement"] > reports[0]["agreement"] + 0.05
    assert reports[-1]["agreement"] > 0.8


def test_distilled_model_keeps_the_teacher_motion_side_and_agrees_on_new_phrasings(
    distilled: tuple[Path, list[str]], data_dir: Path
) -> None:
    path, _ = distilled
    teacher, student = load_retriever("default"), load_retriever(path)
    checkpoint = load_checkpoint(path)
    assert checkpoint.provenance.details["distilled"]["teacher_sha256"] == teacher.sha256
    assert not checkpoint.has_decoder and checkpoint.config.text_model == "all-MiniLM-L6-v2"

    motion = np.load(data_dir / "humanml3d-ref" / "HumanML3D" / "new_joint_vecs" / "012314.npy")
    np.testing.assert_allclose(student.encode_motions([motion]), teacher.encode_motions([motion]), atol=2e-3)

    phrasings = [q.text for q in read_queries(QUERIES)]  # never distilled on
    cosines = (student.encode_texts(phrasings) * teacher.encode_texts(phrasings)).sum(axis=1)
    assert np.median(cosines) > 0.7


def test_distill_text_side_refuses_fewer_than_two_sentences() -> None:
    with pytest.raises(ValueError, match="two distinct"):
        distill_text_side(load_checkpoint("default"), ["a person walks", " a person walks "], DistillConfig(epochs=1))


def test_sentence_files_text_and_annotations(tmp_path: Path) -> None:
    (tmp_path / "s.txt").write_text("a person walks\n\n  someone waves  \n")
    assert read_sentence_file(tmp_path / "s.txt") == ["a person walks", "someone waves"]
    annotations = {"0001": {"path": "x", "duration": 2.0, "annotations": [{"seg_id": "0001_0", "text": "jumps ",
                                                                            "start": 0.0, "end": 2.0}]}}
    (tmp_path / "a.json").write_text(json.dumps(annotations))
    assert read_sentence_file(tmp_path / "a.json") == ["jumps"]
    (tmp_path / "bad.json").write_text("[1, 2]")
    with pytest.raises(DatasetError, match="not a TMR annotations file"):
        read_sentence_file(tmp_path / "bad.json")


@pytest.mark.parametrize(
    ("content", "reason"),
    [(b"\x00\xff\xfe\x01", "cannot read sentences"), (b"only one sentence\n", "needs at least two")],
)
def test_bad_sentence_files_give_one_line_errors(tmp_path: Path, content: bytes, reason: str) -> None:
    (tmp_path / "s.txt").write_bytes(content)
    output = tmp_path / "out.safetensors"
    result = CliRunner().invoke(app, ["distill", "default", "--sentences", str(tmp_path / "s.txt"), "-o", str(output)])
    assert result.exit_code == 1
    assert reason in result.output and "Traceback" not in result.output
    assert not output.exists()


class _Recorder:
    """A JobProgress that keeps every (description, completed, total) the stage was given."""

    def __init__(self) -> None:
        self.updates: list[tuple[str, int | None, int | None]] = []

    @contextlib.contextmanager
    def stage(self, description: str, total: int | None = None) -> Iterator:
        state = {"description": description, "completed": None, "total": total}

        def update(completed: int | None = None, total: int | None = None, description: str | None = None) -> None:
            state.update({k: v for k, v in {"completed": completed, "total": total, "description": description}.items()
                          if v is not None})  # fmt: skip
            self.updates.append((state["description"], state["completed"], state["total"]))

        yield update

    def note(self, message: str) -> None:
        pass


def test_every_long_phase_reports_its_progress_by_name(
    captions: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Encoding the teacher's sentences, the student's token features and each epoch's steps each count
    up to their total under their own name (the bar no longer sits at 0/1 while sentences are encoded)."""
    monkeypatch.setattr("model.distill.SENTENCES_PER_REPORT", 32)  # sentences per report: several reports for a few sentences
    (tmp_path / "s.txt").write_text("\n".join(captions[:100]) + "\n")
    request = DistillRequest(
        teacher="default", output=tmp_path / "out.safetensors", data=None, sentence_files=(tmp_path / "s.txt",),
        motions=None, teacher_text_model=None, config=DistillConfig(epochs=2, batch_size=32), mirror=False,
        with_decoder=False, device="cpu",
    )  # fmt: skip
    sentences = len(distillation_sentences(request))
    recorder = _Recorder()
    run_distillation(request, on_epoch=lambda report: None, progress=recorder)
    phases: dict[str, list[tuple[int, int]]] = {}
    for description, completed, total in recorder.updates:
        phases.setdefault(description, []).append((completed, total))
    names = list(phases)
    assert names[0].startswith("teacher latents") and "student token features" in names[2]
    assert names[1].startswith("loading the student's text backbone") and names[3:] == ["epoch 1/2, steps", "epoch 2/2, steps"]
    teacher = phases[names[0]]
    assert teacher[0] == (0, sentences) and teacher[-1] == (sentences, sentences) and len(teacher) == 5  # 4 chunks
    for name in names[2:]:
        done = [completed for completed, _ in phases[name]]
        assert done == sorted(done) and done[-1] == phases[name][-1][1] > 1, name
