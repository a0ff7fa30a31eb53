"""How a figure writes a number (percentages, intervals, seconds, ratios), and the row labels it reads."""

from __future__ import annotations

CTM, CM, UNOPT = "DITTO-2 (CTM)", "DITTO-2 (CM)", "DITTO-2 (CTM), unoptimised"
MEL_PITCH, MEL_CHROMA = "melody_raw_pitch_accuracy", "melody_raw_chroma_accuracy"
# each control's headline judge: its metric key in an eval row and its name in a table
JUDGES = {"melody": (MEL_PITCH, "pYIN raw pitch"), "intensity": ("intensity_loudness_mae_db", "BS.1770 MAE (dB)"),
          "structure": ("structure_boundary_f", "boundary F")}


def pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def pct_ci(lo_hi: list[float]) -> str:
    return f"[{100 * lo_hi[0]:.1f}, {100 * lo_hi[1]:.1f}]"


def num(x: float, digits: int = 2) -> str:
    return f"{x:.{digits}f}"


def ci(lo_hi: list[float], digits: int = 2) -> str:
    return f"[{lo_hi[0]:.{digits}f}, {lo_hi[1]:.{digits}f}]"


def seconds(ms: float) -> str:
    return f"{ms / 1000:.2f} s"


def ratio(a: float, b: float) -> str:
    return f"{a / b:.1f}×"


def cpu_name(raw_name: str) -> str:
    """A CPU model as lscpu gives it, without the trademark signs ("Intel(R) Xeon(R) Processor" -> "Intel Xeon")."""
    return raw_name.replace("(R)", "").replace(" Processor", "")


def pace(rtf: float) -> str:
    """Faster or slower than real time, from a real-time factor (seconds of work per second of audio)."""
    return "faster" if rtf < 1 else "slower"


def block(lines: list[str]) -> str:
    """A multi-line figure: its own lines, a blank line after so a table ends before the closing marker."""
    return "\n" + "\n".join(lines) + "\n\n"


def judge_parts(row: dict, control: str) -> tuple[str, str]:
    """An eval row's headline judge (``JUDGES``) for ``control``: (its mean, its interval), melody in per cent."""
    key, _ = JUDGES[control]
    value, interval = row["metrics"][key], row["intervals"][key]
    return (pct(value), pct_ci(interval)) if control == "melody" else (num(value), ci(interval))


def judge_reading(row: dict, control: str) -> str:
    """The same as one text: "mean [low, high]"."""
    return " ".join(judge_parts(row, control))
