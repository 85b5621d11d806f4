"""A pytest plugin that only `make mutation` loads (``-p tests.mutation_warmup`` in pyproject's
``[tool.mutmut]``): it imports transformers' BERT classes once, up front.

mutmut forks one worker per mutant from a server process that has collected the tests.
transformers imports its model and tokenizer classes lazily, at the first ``build()``, which
costs several seconds: paid in the server, every worker inherits them. Import only: no torch
computation runs before the fork (its thread pools are not fork-safe).
"""
from __future__ import annotations

import safetensors.torch  # noqa: F401
import transformers.masking_utils  # noqa: F401
import transformers.models.auto.tokenization_auto  # noqa: F401
import transformers.models.bert.modeling_bert  # noqa: F401
import transformers.models.bert.tokenization_bert  # noqa: F401
import transformers.models.distilbert.modeling_distilbert  # noqa: F401
from transformers import AutoConfig, AutoModel, AutoTokenizer  # noqa: F401
