import pytest

from llmclf import InputError
from llmclf.llm import resolve_llm


def test_nothing_set_means_no_llm():
    assert resolve_llm(env={}) is None


def test_flags_win_over_env():
    env = {"LLMCLF_LLM_MODEL": "env-model", "OPENAI_BASE_URL": "http://127.0.0.1:1/v1", "OPENAI_API_KEY": "sk-env"}
    config = resolve_llm("flag-model", "http://127.0.0.1:2/v1", "sk-flag", env=env)
    assert (config.model, config.base_url, config.api_key) == ("flag-model", "http://127.0.0.1:2/v1", "sk-flag")
    config = resolve_llm(env=env)
    assert (config.model, config.base_url, config.api_key) == ("env-model", "http://127.0.0.1:1/v1", "sk-env")


def test_api_key_alone_means_openai_with_a_default_model():
    config = resolve_llm(env={"OPENAI_API_KEY": "sk-test"})
    assert config.base_url == "https://api.openai.com/v1" and config.model == "gpt-4o-mini"
    assert config.mode == "tools"


def test_local_server_needs_no_key_and_no_model():
    config = resolve_llm(env={"OPENAI_BASE_URL": "http://localhost:11434/v1"})
    assert config.model is None  # asked from /models at run time
    assert config.api_key == "not-needed"


def test_key_never_appears_in_repr():
    config = resolve_llm(env={"OPENAI_API_KEY": "sk-very-secret"})
    assert "sk-very-secret" not in repr(config)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"model": "m"}, "no endpoint"),
        ({"base_url": "localhost:8000"}, "must start with http"),
        ({"base_url": "http://x/v1", "mode": "telepathy"}, "unknown LLM mode"),
        # these were 'internal error: InvalidURL' at the first request
        ({"base_url": "http://[::1"}, "not a valid URL \\(Invalid port"),
        ({"base_url": "http://host:port/v1"}, "not a valid URL"),
        ({"base_url": "http:///v1"}, "names no host"),
        ({"base_url": "http://:80/v1"}, "names no host"),
    ],
)
def test_bad_llm_settings_are_input_errors(kwargs, message):
    with pytest.raises(InputError, match=message):
        resolve_llm(env={}, **kwargs)


def test_a_malformed_base_url_with_a_secret_is_refused_without_it():
    with pytest.raises(InputError) as refused:
        resolve_llm(env={"OPENAI_BASE_URL": "https://me:hunter22@[::1:x/v1?key=sk-secret"})
    assert "hunter22" not in str(refused.value) and "sk-secret" not in str(refused.value)
    assert "not a valid URL" in str(refused.value)


def test_an_api_key_with_a_line_break_around_it_is_trimmed_and_one_inside_it_is_refused_unquoted():
    """A key read from an env file kept its CR LF; the HTTP client refused the header, and the user read
    "cannot reach <url>" about a server that was up."""
    env = {"OPENAI_BASE_URL": "http://127.0.0.1:1/v1", "LLMCLF_LLM_MODEL": "m"}
    assert resolve_llm(env={**env, "OPENAI_API_KEY": "sk-abc123\r\n"}).api_key == "sk-abc123"
    spaced = resolve_llm(env={"OPENAI_BASE_URL": " http://127.0.0.1:1/v1\n", "LLMCLF_LLM_MODEL": "m\r\n"})
    assert (spaced.base_url, spaced.model) == ("http://127.0.0.1:1/v1", "m")
    for key in ("sk-abc 123", "sk-abc\n123", "sk-äbc123", "  "):
        with pytest.raises(InputError, match=r"API key .* which an HTTP header cannot carry") as refused:
            resolve_llm(env={**env, "OPENAI_API_KEY": key})
        assert "abc" not in str(refused.value)
