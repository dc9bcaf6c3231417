"""The fake Slack Web API method table."""

from __future__ import annotations

from tests.fakes import slack_agents as agents
from tests.fakes import slack_files as files
from tests.fakes import slack_messages as chat
from tests.fakes import slack_reads as reads
from tests.fakes import slack_streams as streams
from tests.fakes.slack_store import Method

METHODS: dict[str, Method] = {
    "auth.test": reads.auth_test,
    "chat.postMessage": chat.post_message,
    "chat.update": streams.update_stream_message,
    "chat.delete": chat.delete_message,
    "chat.postEphemeral": chat.post_ephemeral,
    "chat.getPermalink": chat.get_permalink,
    "chat.startStream": streams.start_stream,
    "chat.appendStream": streams.append_stream,
    "chat.stopStream": streams.stop_stream,
    "conversations.history": reads.history,
    "conversations.replies": reads.replies,
    "conversations.info": reads.conversations_info,
    "conversations.open": reads.conversations_open,
    "users.info": reads.users_info,
    "reactions.add": reads.reactions_add,
    "reactions.remove": reads.reactions_remove,
    "assistant.threads.setStatus": reads.assistant_thread_call("status"),
    "assistant.threads.setTitle": reads.assistant_thread_call("title"),
    "assistant.threads.setSuggestedPrompts": reads.assistant_thread_call("prompts"),
    "agents.sessions.setStatus": agents.set_session_status,
    "agents.sessions.rename": agents.rename_session,
    "files.getUploadURLExternal": files.get_upload_url,
    "files.completeUploadExternal": files.complete_upload,
    "files.info": files.files_info,
}
