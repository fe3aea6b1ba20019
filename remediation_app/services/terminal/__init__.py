"""Browser terminals to stored SSH servers.

servers     the SSH servers an admin stores: credentials (encrypted), pinned host keys, roles
tickets     one-time tickets, TerminalRefused, and the checks that the login behind a terminal stands
connection  the SSH connection: the pinned host key only, the stored credentials
bridge      the WebSocket <-> PTY bridge with flow control, the idle timeout and the login check
sessions    session records (written as a terminal opens, beats and closes) and their listing
recording   asciicast recordings, encrypted in chunks, and the tail shown to the chat
"""
