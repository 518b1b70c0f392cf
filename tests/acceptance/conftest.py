import sys
from pathlib import Path

# The real-kernel driver lives with the notebook tests.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "notebooks"))
