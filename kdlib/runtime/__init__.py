"""Where and how tensors run: devices, precision (bf16 / fp16 autocast, gradient scaling),
``torch.distributed`` set-up, and the one inference context that re-ranking, dense encoding
and teacher scoring share.

- :mod:`kdlib.runtime.precision`    resolving ``auto`` / ``bf16`` / ``fp16`` / ``fp32``, autocast, scalers
- :mod:`kdlib.runtime.distributed`  ``torchrun`` ranks and the device of each
- :mod:`kdlib.runtime.inference`    a ranker's device and the no-grad, autocast context it scores under
"""
