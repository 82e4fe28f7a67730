"""pytest set-up for the interop tests: offline, quiet, CPU, deterministic."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import pytest  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402

torch.set_num_threads(min(2, os.cpu_count() or 1))
torch.manual_seed(0)
transformers.logging.set_verbosity_warning()
transformers.logging.disable_progress_bar()


@pytest.fixture(scope="session", autouse=True)
def _grow_binary():
    from growhf import grow_bin
    b = grow_bin()
    assert os.access(b, os.X_OK), f"GROW_BIN={b} is not an executable file"
    return b


def pytest_terminal_summary(terminalreporter):
    from growhf import MEASURED
    if not MEASURED:
        return
    terminalreporter.section("measured max-abs differences")
    for what, d, tol, scale in MEASURED:
        lim = f"<= {tol:g}" if tol is not None else ""
        terminalreporter.write_line(f"{what:<60} {d:10.3g} {lim:<10} (max |ref| {scale:.3g})")
