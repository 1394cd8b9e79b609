"""`tmr train` and `tmr eval` end to end on a small captioned corpus of real clips (tiny network)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from model.checkpoint import load_checkpoint
from tmrcli.app import app

CONTENTS = ("walk", "run", "wave-left-hand", "raise-up-both-hands")
TINY = ["--layers", "1", "--latent-dim", "32", "--ff-size", "64"]


@pytest.fixture(scope="module")
def corpus(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Dataset-2 clips of four actions: takes 1-2 train, 5 val, 6 test; captions.tsv from labels."""
    root = tmp_path_factory.mktemp("corpus")
    rows, splits = ["path\tlabel\ttext"], {"train": [], "val": [], "test": []}
    takes = {"001": "train", "002": "train", "005": "val", "006": "test"}
    for content in CONTENTS:
        for take, split in takes.items():
            name = f"dataset-2_{content}_normal_{take}.bvh"
            (root / "clips").mkdir(exist_ok=True)
            os.symlink(data_dir / "bandai-namco" / "dataset-2" / "data" / name, root / "clips" / name)
            words = content.replace("-", " ")
            rows += [f"clips/{name}\t{content}\ta person does {words}", f"clips/{name}\t{content}\tsomeone: {words}"]
            splits[split].append(f"clips/{name}")
    (root / "captions.tsv").write_text("\n".join(rows) + "\n")
    (root / "splits").mkdir()
    for split, paths in splits.items():
        (root / "splits" / f"{split}.txt").write_text("\n".join(paths) + "\n")
    return root


@pytest.fixture(scope="module")
def trained(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("run")
    result = CliRunner().invoke(
        app, ["train", str(corpus), "--run-dir", str(run), "--epochs", "2", "--val-every", "1", "--batch-size", "4", *TINY]
    )
    assert result.exit_code == 0, result.output
    return run


def test_training_writes_full_and_inference_checkpoints(trained: Path) -> None:
    best = load_checkpoint(trained / "best.safetensors")
    small = load_checkpoint(trained / "model.safetensors")
    assert best.has_decoder and not small.has_decoder
    assert best.config.num_layers == 1 and best.config.latent_dim == 32
    assert (trained / "model.safetensors").stat().st_size < (trained / "best.safetensors").stat().st_size / 2
    assert "8 training motions" in small.provenance.trained_on
    for name, tensor in small.model.state_dict().items():
        torch.testing.assert_close(tensor, best.model.state_dict()[name].half().float(), rtol=0, atol=0)


def test_resume_continues_where_the_run_stopped(corpus: Path, trained: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    result = CliRunner().invoke(
        app,
        ["train", str(corpus), "--run-dir", str(run), "--epochs", "3", "--resume", "--batch-size", "4", "--json", *TINY],
    )
    assert result.exit_code == 0, result.output
    epochs = [json.loads(line)["epoch"] for line in result.stdout.splitlines() if line.startswith("{")]
    assert epochs == [3]


def test_eval_prints_every_protocol_and_a_label_aware_score(corpus: Path, trained: Path, tmp_path: Path) -> None:
    queries = tmp_path / "queries.tsv"
    queries.write_text("label\ttext\nwalk\tsomebody strolls\nwave-left-hand\tgreets with the left hand\n")
    result = CliRunner().invoke(
        app,
        ["eval", str(corpus), "--checkpoint", str(trained / "model.safetensors"), "--queries", str(queries), "--json"],
    )
    assert result.exit_code == 0, result.output
    reports = json.loads(result.stdout)
    names = [r["protocol"] for r in reports]
    assert names[:4] == ["(a) all", "(b) all, threshold 0.95", "(c) dissimilar subset (100)", "(d) small batches (32)"]
    assert names[4:] == ["label-aware", "label-aware, held-out phrasings"]
    assert all(r["text_to_motion"]["queries"] == 4 for r in reports[:4])
    # Only the test motions whose action a query names (walk, wave-left-hand) can be captioned right.
    assert reports[-1]["text_to_motion"]["queries"] == 2 and reports[-1]["motion_to_text"]["queries"] == 2
    assert 0.0 <= reports[-1]["left_right_confusion_t2m"] <= 1.0


def test_eval_says_when_protocols_c_and_d_are_protocol_a_on_a_small_test_set(
    corpus: Path, trained: Path
) -> None:
    """On 4 test pairs, the dissimilar subset of 100 and the batch of 32 are the whole set: the figures
    of (c) and (d) are those of (a), and the output and JSON say so."""
    checkpoint = str(trained / "model.safetensors")
    result = CliRunner().invoke(app, ["eval", str(corpus), "--checkpoint", checkpoint, "--protocol", "all", "--json"])
    assert result.exit_code == 0, result.output
    a, b, c, d = json.loads(result.stdout)[:4]
    assert c["motion_to_text"] == a["motion_to_text"] and c["text_to_motion"] == a["text_to_motion"]
    assert a["note"] is None and b["note"] is None
    assert c["note"] == "the test set has 4 pairs, not more than 100: its dissimilar subset is all of them, so these are the figures of (a)"
    assert d["note"] == "the test set has 4 pairs, not more than 32: its one batch is all of them, so these are the figures of (a)"
    human = CliRunner().invoke(app, ["eval", str(corpus), "--checkpoint", checkpoint, "--protocol", "c"])
    assert human.exit_code == 0 and f"note: {c['note']}" in " ".join(human.stdout.split())


def test_queries_naming_no_action_of_the_split_fail_in_one_line(corpus: Path, trained: Path, tmp_path: Path) -> None:
    queries = tmp_path / "queries.tsv"
    queries.write_text("label\ttext\nbow\ta person bows\n")
    checkpoint = str(trained / "model.safetensors")
    result = CliRunner().invoke(app, ["eval", str(corpus), "--checkpoint", checkpoint, "--queries", str(queries)])
    assert result.exit_code == 1
    assert "no query label names an action" in result.output and "Traceback" not in result.output


def test_a_folder_that_is_no_dataset_fails_in_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["train", str(tmp_path), "--run-dir", str(tmp_path / "run")])
    assert result.exit_code == 1
    assert "not a dataset folder" in result.output and "Traceback" not in result.output


def test_two_processes_train_together_with_torchrun(corpus: Path, tmp_path: Path) -> None:
    """DistributedDataParallel on the CPU (gloo): what several GPUs run, on two processes."""
    tmr = Path(sys.executable).with_name("tmr")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(tmr)]
    args = ["train", str(corpus), "--run-dir", str(tmp_path / "run"), "--epochs", "2", "--batch-size", "2", "--json", *TINY]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command + args, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [line["epoch"] for line in lines] == [1, 2]  # reported once, by rank 0
    assert 0 < lines[0]["samples"] <= 4  # each rank trains on its half of the clips (2-10 s ones only)
    assert load_checkpoint(tmp_path / "run" / "model.safetensors").config.num_layers == 1


def test_label_filtering_trains_and_records_the_choice(corpus: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    args = ["train", str(corpus), "--run-dir", str(run), "--epochs", "1", "--filter", "label", "--batch-size", "4"]
    result = CliRunner().invoke(app, [*args, *TINY])
    assert result.exit_code == 0, result.output
    assert load_checkpoint(run / "model.safetensors").provenance.details["train"]["negative_filter"] == "label"


def test_a_weight_average_is_validated_kept_and_resumed(corpus: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    # Validated at epoch 2 only (then at the last epoch), so best.safetensors holds epoch 2's average.
    args = ["train", str(corpus), "--run-dir", str(run), "--batch-size", "4", "--val-every", "2", *TINY]
    result = CliRunner().invoke(app, [*args, "--epochs", "2", "--ema-decay", "0.9", "--word-dropout", "0.2"])
    assert result.exit_code == 0, result.output
    state = torch.load(run / "train_state.pt", weights_only=True)
    averaged = {name.removeprefix("module."): t for name, t in state["average"].items() if name.startswith("module.")}
    last = load_checkpoint(run / "last.safetensors").model.state_dict()
    assert averaged.keys() == last.keys()
    assert any(not torch.equal(averaged[name], last[name]) for name in last)  # the average is not the raw weights
    best = load_checkpoint(run / "best.safetensors")
    assert best.provenance.details["train"]["ema_decay"] == 0.9
    assert best.provenance.details["train"]["word_dropout"] == 0.2
    assert best.provenance.details["epochs_done"] == 2
    for name, tensor in best.model.state_dict().items():
        torch.testing.assert_close(tensor, averaged[name], rtol=0, atol=0)
    resumed = CliRunner().invoke(app, [*args, "--epochs", "3", "--ema-decay", "0.9", "--resume"])
    assert resumed.exit_code == 0, resumed.output
    after = torch.load(run / "train_state.pt", weights_only=True)["average"]
    assert int(after["n_averaged"]) > int(state["average"]["n_averaged"]) > 0  # carried on, not restarted


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_both_precisions_train_on_the_cpu_and_are_recorded(corpus: Path, tmp_path: Path, precision: str) -> None:
    run = tmp_path / "run"
    args = ["train", str(corpus), "--run-dir", str(run), "--epochs", "1", "--batch-size", "4", "--device", "cpu"]
    result = CliRunner().invoke(app, [*args, "--precision", precision, "--json", *TINY])
    assert result.exit_code == 0, result.output
    [line] = [json.loads(text) for text in result.stdout.splitlines()]
    assert all(torch.isfinite(torch.tensor(value)) for value in line["losses"].values())
    assert load_checkpoint(run / "model.safetensors").provenance.details["train"]["precision"] == precision


def test_an_unknown_precision_is_a_usage_error(corpus: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["train", str(corpus), "--run-dir", str(tmp_path), "--precision", "fp8"])
    assert result.exit_code == 2


def test_validation_phrasings_are_scored_and_recorded(corpus: Path, tmp_path: Path) -> None:
    """--val-queries scores new sentences on the val split every validation, and the best checkpoint
    is picked with them."""
    queries = tmp_path / "queries.tsv"
    queries.write_text("label\ttext\nwalk\tsomebody strolls ahead\nrun\tsomebody jogs off quickly\n")
    run = tmp_path / "run"
    args = ["train", str(corpus), "--run-dir", str(run), "--epochs", "1", "--val-every", "1", "--batch-size", "4"]
    result = CliRunner().invoke(app, [*args, "--filter", "label", "--val-queries", str(queries), *TINY])
    assert result.exit_code == 0, result.output
    assert "phrasings t2m R@1" in result.output
    assert load_checkpoint(run / "model.safetensors").provenance.details["train"]["std_floor"] == 0.25


def test_an_interrupted_run_says_which_checkpoint_to_use(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C after the first epoch: model.safetensors is exported only at the end, so the message names
    best.safetensors (which --checkpoint takes) and how to resume; exit code 130, no traceback."""
    import tmrcli.jobs.training as training

    real_run = training.run_training

    def interrupted_after_the_first_epoch(request, on_epoch, progress):
        def interrupt(report) -> None:
            raise KeyboardInterrupt  # what Ctrl-C raises in the training loop

        return real_run(request, on_epoch=interrupt, progress=progress)

    monkeypatch.setattr(training, "run_training", interrupted_after_the_first_epoch)
    run = tmp_path / "run"
    args = ["train", str(corpus), "--run-dir", str(run), "--epochs", "5", "--val-every", "1", "--checkpoint-every", "1", "--batch-size", "4", *TINY]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 130, result.output
    assert not (run / "model.safetensors").exists() and "Traceback" not in result.output
    line = result.output.strip().splitlines()[-1]
    assert line.startswith("interrupted:") and f"--checkpoint {run / 'best.safetensors'}" in line
    assert f"--run-dir {run} --resume" in line
    assert load_checkpoint(run / "best.safetensors").config.latent_dim == 32
