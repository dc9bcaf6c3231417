"""Every sentence users see from the bridge itself, in one place. Never exception text."""

from __future__ import annotations

EMPTY_MESSAGE_HINT = (
    "Ask me something after the mention, for example: _@assistant summarise this thread_."
)
EMPTY_ANSWER = "_The assistant finished without writing an answer. Please try rephrasing._"
RUN_FAILED = "Sorry, the assistant ran into an error and could not answer. Please try again."
RUN_CANCELLED = "The assistant's run was cancelled before it answered. Please ask again."
STOPPED_MARK = "_Stopped._"
STOPPED_BEFORE_ANSWER = "_Stopped before the assistant answered._"
RUN_EXPIRED = "The assistant took too long and its run expired. Please ask again."
RUN_INCOMPLETE = (
    "The answer stopped early ({reason}). Ask me to continue, or ask a shorter question."
)
RUN_TIMED_OUT = (
    "The assistant took longer than {minutes} minutes, so I stopped it. Please try again, "
    "perhaps with a simpler question."
)
FILES_REFUSED = (
    "I left out {count} of the attached files; the rest of your message went to the "
    "assistant:\n{files}"
)
FILES_NOT_FETCHED = (
    "I couldn't pass these attached files on to the assistant; the rest of your message "
    "went:\n{files}"
)
FILES_NOT_FOR_AGENT = (
    "This assistant has no environment to read files in, so I didn't pass these on; the "
    "rest of your message went:\n{files}"
)
NOTHING_TO_SEND = (
    "None of the attached files could be passed on, so there was nothing to ask the assistant."
)
FILE_NOT_UPLOADED = "_I couldn't attach {name} here ({reason})._"
# Reasons for FILE_NOT_UPLOADED.
FILE_GONE_AT_OPENAI = "it is no longer available at OpenAI"
FILE_NO_UPLOAD_SCOPE = "the Slack app may not upload files"
FILE_OVER_LIMIT = "it is over the {limit} limit for files"
TOOL_ACTIVITY = "_{activity}…_"
# While the first words of an answer are awaited (assistant.threads.setStatus: at most 10).
THINKING = "is thinking…"
LOADING_MESSAGES = ("Reading your message…", "Thinking it over…", "Putting an answer together…")
TOO_LONG = (
    "That message is too long for me ({length:,} characters; the limit is {limit:,}). "
    "Please shorten it or split it into parts."
)
CONTEXT_FULL = (
    "That was too much for the model to read at once, even with the older part of our "
    "conversation set aside. Please send a shorter message or split it into parts: the "
    "conversation is kept (`/assistant reset` starts a fresh one if you prefer)."
)
TOO_MANY_TOOL_ROUNDS = (
    "The assistant kept calling tools without finishing ({rounds} rounds), so I stopped it. "
    "Please try again, perhaps with a narrower question."
)
RUN_REJECTED = (
    "Sorry, OpenAI refused this request, so there is no answer. "
    "An admin can find the reason in the bridge's log."
)


def incomplete(reason: str | None) -> str:
    readable = {
        "max_output_tokens": "it reached the maximum answer length",
        "max_prompt_tokens": "the conversation is longer than the model accepts",
        "max_completion_tokens": "it reached the maximum answer length",
        "content_filter": "the content filter stopped it",
    }.get(reason or "", "the model stopped before finishing")
    return RUN_INCOMPLETE.format(reason=readable)


COMMAND_HELP = (
    "*`/assistant`* — which assistant answers here\n"
    "• `/assistant list` — the assistants you can use\n"
    "• `/assistant use NAME` — switch this conversation to NAME (switching back later resumes "
    "where you left off)\n"
    "• `/assistant current` — which assistant answers here, and since when\n"
    "• `/assistant reset` — start a fresh conversation with the current assistant\n"
    "• `/assistant help` — this text\n"
    "In a DM this applies to your own conversation; in a channel, to the channel's."
)
UNKNOWN_ASSISTANT = "There is no assistant called *{name}*. You can use: {names}."
NOW_USING = "Now using *{name}* {where}. {resume}"
RESUMING = "Switching back later resumes the earlier conversation with it."
ALREADY_USING = "*{name}* already answers {where}."
CURRENT = "*{name}* answers {where}{since}."
RESET_DONE = (
    "Started a fresh conversation with *{name}* {where}. The old one is kept but no longer used."
)
RESET_NOTHING = "There is no conversation with *{name}* {where} yet, so there is nothing to reset."
RESET_THREAD_SCOPE = (
    "Each Slack thread here has its own conversation: start a new thread for a fresh one."
)
RESET_DM_THREAD_SCOPE = (
    "Each thread in our DM has its own conversation: send a new message (not a reply in a "
    "thread) for a fresh one."
)
FEEDBACK_RECORDED = "Thanks for the feedback: your {vote} on this answer is recorded."
FEEDBACK_CHANGED = "Changed your feedback on this answer to {vote}."
FEEDBACK_UNCHANGED = "Your {vote} on this answer was already recorded."
ADMINS_ONLY = "Only the workspace's bridge admins can change the assistant of a channel."
NOT_IN_CHANNEL = (
    "I'm not in this channel yet, so mentions here don't reach me: "
    "invite me with `/invite` and my name (<@{bot}>)."
)
# The "Ask the assistant about this" message shortcut (ephemeral to its user, and the DM).
SHORTCUT_ANSWER_IN_DM = "I'll answer in our DM, where only you can see the question and the answer."
SHORTCUT_ABOUT = (
    "You asked about <{link}|this message> from {author} in {where}. My answer follows."
)
SHORTCUT_CANNOT_READ = (
    "I can't read {where}, so I can't answer about that message. Invite me there with "
    "`/invite` and my name ({bot}), then use the shortcut again."
)
SHORTCUT_EMPTY = "That message has no text or files for me to look at. Try it on another message."
SHORTCUT_FAILED = "Slack didn't answer me in time, so I couldn't take that. Please try again."
