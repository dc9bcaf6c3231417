"""Settings: the environment (and `.env`) read once into one typed object."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from dotenv import load_dotenv
from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.errors import ConfigError

DEFAULT_MODEL = "gpt-5-mini"
DEFAULT_INSTRUCTIONS = (
    "You are a helpful assistant in a company's Slack workspace. Answer clearly and concisely; "
    "use Markdown where it helps."
)
# Given to the SDK explicitly: left to itself it reads OPENAI_BASE_URL, and an empty one (a
# `.env` copied from `.env.example`) would become a base URL of "".
DEFAULT_OPENAI_BASE_URL = "https://api.openai.com/v1"
# The longest LEASE_SECONDS: a dead process's work is taken over within 60 s (CONTRACT).
LEASE_SECONDS_MAX = 50.0


class ChannelScope(StrEnum):
    """What shares one assistant conversation in a channel."""

    CHANNEL = "channel"
    THREAD = "thread"
    USER = "user"


class DmScope(StrEnum):
    """What shares one assistant conversation in a user's DM with the bot."""

    USER = "user"  # one conversation per user (and assistant), whatever the thread
    THREAD = "thread"  # each top-level DM message starts one; its Slack thread continues it


class Settings(BaseSettings):
    """Every setting of the bridge. Only this module reads `os.environ`."""

    # env_ignore_empty: an empty variable (as in a `.env` copied from `.env.example`) means
    # the default, in `.env` and in the real environment alike.
    model_config = SettingsConfigDict(
        case_sensitive=False, extra="ignore", frozen=True, env_ignore_empty=True
    )

    slack_bot_token: str = ""
    slack_signing_secret: str = ""
    slack_app_token: str = ""
    slack_api_url: str = "https://slack.com/api/"
    openai_api_key: str = ""
    openai_base_url: str = DEFAULT_OPENAI_BASE_URL
    openai_model: str = DEFAULT_MODEL
    assistant_instructions: str = DEFAULT_INSTRUCTIONS
    openai_assistant_id: str = ""
    # A saved Agents API agent as the default assistant (instead of OPENAI_ASSISTANT_ID).
    openai_agent_id: str = ""
    assistants_file: str = ""
    channel_scope: ChannelScope = ChannelScope.CHANNEL
    dm_scope: DmScope = DmScope.USER
    database_url: str = "sqlite:///bridge.db"
    port: int = Field(default=3000, ge=1, le=65535)
    log_level: str = Field(default="INFO", pattern=r"^(?i:debug|info|warning|error)$")
    # How often a running turn is polled, in seconds, and how long a process's claim on a
    # turn or reply lasts before another process may take it over (CONTRACT: within 60 s).
    poll_interval: float = Field(default=0.25, gt=0, le=30)
    poll_interval_max: float = Field(default=3.0, gt=0, le=60)
    lease_seconds: float = Field(default=30.0, ge=2, le=LEASE_SECONDS_MAX)
    # Slack user ids allowed to switch or reset a channel's assistant (empty: everyone).
    admin_user_ids: str = ""
    # A run still unfinished after this long is cancelled and the user told.
    run_timeout_seconds: float = Field(default=600.0, ge=1)
    # Longer messages are refused with a clear reply instead of failing at the model.
    max_message_chars: int = Field(default=30_000, ge=100)
    # Each function call the model asks for gets this long before it becomes an error output.
    function_timeout_seconds: float = Field(default=30.0, gt=0, le=300)
    # Attached files larger than this are refused with a reply naming them (images: 20 MB
    # at most, OpenAI's own limit for image inputs).
    max_file_mb: float = Field(default=25.0, gt=0, le=512)
    # Mentioned inside a Slack thread, the assistant first gets that much of its earlier
    # messages (newest kept; 0: none). About 2,000 tokens.
    thread_context_chars: int = Field(default=8_000, ge=0, le=200_000)
    # Answered messages are kept this long (Slack retries come within minutes).
    retention_days: float = Field(default=7.0, gt=0)
    # Background steps (a create, a poll, a post) in flight at once. They mostly wait on
    # Slack and OpenAI, so this is about throughput x API time: 100 turns/s with 0.1 s per
    # call needs about 65; the bound only keeps an overloaded process acking Slack.
    max_concurrent_steps: int = Field(default=256, ge=1, le=100_000)
    # on: answers stream into Slack as the model writes them, where the surface allows
    # (Responses assistants; chat.startStream/appendStream/stopStream); off: post when done.
    streaming: bool = True
    # A per-workspace budget for starting streams / appending to them (None: no budget of
    # our own; Slack's 429s pause the method for the workspace).
    stream_starts_per_minute: float | None = Field(default=None, gt=0)
    stream_appends_per_minute: float | None = Field(default=None, gt=0)

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token(cls, value: str) -> str:
        return _prefixed(value, "xoxb-", "a bot token starting with xoxb-")

    @field_validator("slack_app_token")
    @classmethod
    def _app_token(cls, value: str) -> str:
        return _prefixed(value, "xapp-", "an app-level token starting with xapp-")

    @field_validator("openai_assistant_id")
    @classmethod
    def _assistant_id(cls, value: str) -> str:
        return _prefixed(value, "asst_", "an Assistants API id starting with asst_")

    @field_validator("openai_agent_id")
    @classmethod
    def _agent_id(cls, value: str) -> str:
        if any(char.isspace() for char in value):
            raise ValueError("must be a saved agent's id (no whitespace)")
        if value.startswith("asst_"):
            raise ValueError(
                "must be an Agents API agent's id; an asst_… id is OPENAI_ASSISTANT_ID"
            )
        return value

    @field_validator("slack_api_url")
    @classmethod
    def _trailing_slash(cls, value: str) -> str:
        return value if value.endswith("/") else value + "/"

    @model_validator(mode="after")
    def _one_default_kind(self) -> Settings:
        if self.openai_assistant_id and self.openai_agent_id:
            raise ValueError(
                "OPENAI_ASSISTANT_ID and OPENAI_AGENT_ID are both set: the default assistant is "
                "an Assistants API assistant or an Agents API agent, not both; unset one"
            )
        return self

    @model_validator(mode="after")
    def _function_fits_the_lease(self) -> Settings:
        # A function call must end within the claim on its turn: past it, another process
        # may take the turn over and run the same call again while this one still runs.
        timeout, lease = self.function_timeout_seconds, self.lease_seconds
        if timeout > lease:
            raise ValueError(function_outlives_lease(timeout, lease))
        return self

    @property
    def admins(self) -> frozenset[str]:
        return frozenset(part.strip() for part in self.admin_user_ids.split(",") if part.strip())

    def require(self, *, http: bool) -> None:
        """Fail with a message naming every required variable that is unset."""
        missing = [
            name
            for name, value, needed in (
                ("SLACK_BOT_TOKEN", self.slack_bot_token, True),
                ("SLACK_SIGNING_SECRET", self.slack_signing_secret, http),
                ("SLACK_APP_TOKEN", self.slack_app_token, not http),
                ("OPENAI_API_KEY", self.openai_api_key, True),
            )
            if needed and not value
        ]
        if missing:
            raise ConfigError(f"missing required environment variable(s): {', '.join(missing)}")


def _prefixed(value: str, prefix: str, what: str) -> str:
    # The message never repeats the value: it may be a secret pasted into the wrong variable.
    if value and not value.startswith(prefix):
        raise ValueError(f"must be {what}")
    return value


def function_outlives_lease(timeout: float, lease: float) -> str:
    if timeout <= LEASE_SECONDS_MAX:
        fix = (
            f"raise LEASE_SECONDS to {timeout:g} or more (at most {LEASE_SECONDS_MAX:g}), "
            f"or lower FUNCTION_TIMEOUT_SECONDS to {lease:g} or less"
        )
    else:
        fix = (
            f"lower FUNCTION_TIMEOUT_SECONDS to {lease:g} or less (LEASE_SECONDS can be "
            f"raised to at most {LEASE_SECONDS_MAX:g})"
        )
    return (
        f"FUNCTION_TIMEOUT_SECONDS ({timeout:g}) is longer than LEASE_SECONDS ({lease:g}): "
        "a function still running when this process's claim on its turn runs out could be run "
        f"again by another process; {fix}"
    )


def load_settings(env_file: str | Path | None = ".env") -> Settings:
    """Read `.env` (without overriding the real environment), then the environment."""
    if env_file is not None and Path(env_file).is_file():
        load_dotenv(env_file, override=False)
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(_problem(err) for err in exc.errors())
        raise ConfigError(f"invalid environment: {problems}") from None


def _problem(err: ErrorDetails) -> str:
    """The variable and pydantic's reason; never the value, which may be a secret."""
    reason = err["msg"].removeprefix("Value error, ")
    # A rule across variables has no location: its message names the variables itself.
    return f"{str(err['loc'][0]).upper()} {reason}" if err["loc"] else reason
