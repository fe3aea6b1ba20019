"""The LLM layer: every call to a model goes through `client` (LiteLLM), and what is built on it sits here.

    sdk            LiteLLM itself, imported lazily, offline and quiet
    config         ProviderConfig: what a call needs (model, endpoint, key, limits)
    providers      the providers an admin stores (API key encrypted) and the one from the environment
    errors         LLMError, LiteLLM's exceptions mapped to it, text made safe to show and store
    client         the one client: calls, streaming, token counting, context window, cost
    limiter        fits a prompt into the model's context window (oldest turns go first)
    prompts        the Jinja2 templates in prompts/ and the quoting of untrusted data
    analysis       the analysis prompt and the tolerant parser of its answer
    chat           the chat's context for one question and its answer streamed to a browser tab
    conversations  chats stored per alert and per user; one turn as the page runs it
    jobs, claims   the durable analysis queue: its producers and readers, and the worker's side
    worker         the lifespan task that runs the queue
    costs          spend and the daily budget, from the stored costs

Nothing is imported at package import, and no module imports LiteLLM at import: it takes seconds
and must stay off the webhook path (sdk.py).
"""
