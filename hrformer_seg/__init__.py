"""hrformer_seg: HRFormer + OCR semantic segmentation on mmengine and mmcv."""
import mmcv
import mmengine
from mmengine.utils import digit_version

from .version import __version__

# full mmcv and mmcv-lite both provide the ``mmcv`` module; check its version
# here instead of in setup.py so either build is accepted.
MMCV_MIN, MMCV_MAX = '2.0.0', '2.3.0'
MMENGINE_MIN, MMENGINE_MAX = '0.10.0', '1.0.0'


def _check_version(name: str, version: str, low: str, high: str) -> None:
    if not digit_version(low) <= digit_version(version) < digit_version(high):
        raise ImportError(
            f'{name}=={version} is installed, but hrformer_seg needs '
            f'{low} <= {name} < {high}. On a CPU machine run '
            f'`pip install -r requirements.txt`; with a GPU install a '
            f'matching full mmcv build.')


_check_version('mmcv', mmcv.__version__, MMCV_MIN, MMCV_MAX)
_check_version('mmengine', mmengine.__version__, MMENGINE_MIN, MMENGINE_MAX)

from . import registry, structures  # noqa: E402,F401

__all__ = ['__version__']
