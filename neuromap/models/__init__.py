"""Model registry (timm-like): `create_model("digitnet", kind="snn"|"cnn", ...)`, and each family's
training recipe kept next to it as data (`get_recipe`, neuromap.models.recipe). The registry lives in
neuromap.models.registry; importing this package registers the built-in families."""
from neuromap.models.registry import KINDS, create_model, get_recipe, list_models, register_model

# Register the built-in families (each imports register_model from neuromap.models.registry).
from neuromap.models import digitnet as _digitnet  # noqa: E402,F401
from neuromap.models import squeezenet as _squeezenet  # noqa: E402,F401
from neuromap.models import shufflenet as _shufflenet  # noqa: E402,F401
from neuromap.models import mnasnet as _mnasnet  # noqa: E402,F401
from neuromap.models import mixnet as _mixnet  # noqa: E402,F401

__all__ = ["KINDS", "create_model", "get_recipe", "list_models", "register_model"]
