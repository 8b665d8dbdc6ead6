"""The transformers backend's plumbing on a tiny randomly initialised Qwen2-style model.

The model and a byte-level BPE tokenizer with a chat template are built in a temp folder (no
downloads); its output is noise, so the tests check the plumbing: chat template, generation,
token counts, streaming, the schema path's error. A ``gpu`` variant runs the same on CUDA.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.llm.base import LLMOutputError
from agent.llm.factory import create_llm
from agent.llm.transformers_backend import TransformersLLM, with_schema_instruction
from agent.settings import LLMSettings
from agent.types import Message
from retrieval.errors import BackendUnavailableError, ConfigError

pytestmark = pytest.mark.integration

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

WORDS = "the a video talk about ocean music science history cooking travel short long funny calm"
TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
ASK = [Message("system", "Be brief."), Message("user", "a calm talk about the ocean")]


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1-layer Qwen2 causal LM and its tokenizer, saved like a Hugging Face snapshot."""
    try:
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
        from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM
    except ImportError as exc:
        pytest.skip(f"cannot build a tiny model here: {exc}")
    out = tmp_path_factory.mktemp("tiny-qwen2")
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    corpus = [WORDS + ' system user assistant {}:,"[]0123456789\n'] * 20
    bpe.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=120, special_tokens=specials))
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe, eos_token="<|im_end|>", pad_token="<|endoftext|>"
    )
    tokenizer.chat_template = TEMPLATE
    tokenizer.save_pretrained(out)
    torch.manual_seed(0)
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=512,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
        initializer_range=0.5,  # varied (if meaningless) words instead of one repeated token
    )
    Qwen2ForCausalLM(config).save_pretrained(out)
    return out


def _check_plumbing(llm: TransformersLLM) -> None:
    done = llm.complete(ASK, max_tokens=12, tag="tiny@1")
    assert done.text.strip()
    assert done.completion_tokens == 12  # the random model never says <|im_end|> this early
    assert done.prompt_tokens > 5
    pieces = list(llm.stream(ASK, max_tokens=12))
    assert len(pieces) > 1
    assert "".join(pieces).strip()
    # greedy decoding: streamed and one-shot text agree
    assert "".join(pieces).strip() == done.text.strip()


def test_generation_and_streaming_on_cpu(tiny_model: Path, tmp_path: Path) -> None:
    llm = create_llm(LLMSettings(backend="transformers", model=str(tiny_model)), tmp_path)
    assert isinstance(llm, TransformersLLM)
    _check_plumbing(llm)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_generation_and_streaming_on_cuda(tiny_model: Path) -> None:
    _check_plumbing(TransformersLLM(tiny_model, device="cuda"))


def test_abandoned_stream_stops_generation(tiny_model: Path) -> None:
    llm = TransformersLLM(tiny_model)
    stream = llm.stream(ASK, max_tokens=400)
    assert next(stream)
    stream.close()  # type: ignore[attr-defined]  # joins the generation thread, stopped by the stopping criterion
    assert llm.complete(ASK, max_tokens=4).text.strip()


def test_schema_path_prompts_validates_and_fails_clearly(tiny_model: Path) -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    assert "JSON schema" in with_schema_instruction([ASK[1].__dict__], schema)[0]["content"]
    with pytest.raises(LLMOutputError, match="2 tries"):  # noise is never valid JSON
        TransformersLLM(tiny_model).complete(ASK, schema=schema, max_tokens=8)


def test_cuda_requested_without_cuda(tiny_model: Path) -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ConfigError, match="no CUDA device"):
        TransformersLLM(tiny_model, device="cuda").complete(ASK)


def test_folder_without_weights(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text('{"model_type": "qwen2"}')
    with pytest.raises(BackendUnavailableError, match="could not load"):
        TransformersLLM(tmp_path).complete(ASK)
