"""``vidrec ask``, ``vidrec chat`` and ``vidrec feedback``: the recommender in a terminal.

Each command is a few lines over :class:`agent.recommender.Recommender`; the reply streams as the
model writes it, then each pick is printed with its reason, the quote that earns it and a link at
that moment.
"""

from __future__ import annotations

import sys
from typing import cast

import typer

from agent.recommender import Recommender
from agent.settings import Settings
from agent.types import Answer, FeedbackKind, Message, Recommendation
from retrieval.errors import VidrecError

FEEDBACK_KINDS = ("like", "dislike", "watched", "rating")

CHAT_HELP = """Commands: /like N, /dislike N, /watched N [FRACTION], /rate N RATING, /new, /help, /quit
(N is the number of a pick in the last list.)"""


class _TurnFailed(VidrecError):
    """A turn failed after it started streaming (the message says why)."""

    code = "turn_failed"


def _recommender(rerank: bool | None = None) -> Recommender:
    """The facade over the configured settings; ``rerank`` overrides ``agent.rerank``."""
    settings = Settings()
    if rerank is not None:
        settings = settings.model_copy(
            update={"agent": settings.agent.model_copy(update={"rerank": rerank})}
        )
    return Recommender(settings)


def format_recommendation(rec: Recommendation) -> str:
    """One pick as a few terminal lines."""
    lines = [f"{rec.rank}. {rec.video.title}  [{rec.timestamp}]  ({rec.video.id})"]
    lines.append(f"   {rec.reason}")
    if rec.evidence_quote and rec.evidence_quote not in rec.reason:
        lines.append(f'   "{rec.evidence_quote}"')
    if rec.play_url:
        lines.append(f"   {rec.play_url}")
    return "\n".join(lines)


def _print_turn(recommender: Recommender, conversation: list[Message], user: str, k: int) -> Answer:
    """Stream one turn to stdout; return the whole answer."""
    answer: Answer | None = None
    printed_text = False
    listed = False
    for event in recommender.stream(conversation, user, k=k):
        if event.kind == "text":
            typer.echo(event.text, nl=False)
            sys.stdout.flush()
            printed_text = True
        elif event.kind == "recommendation" and event.recommendation is not None:
            if printed_text and not listed:
                typer.echo("\n")
            listed = True
            typer.echo(format_recommendation(event.recommendation))
        elif event.kind == "reason" and event.recommendation is not None:
            rec = event.recommendation
            typer.echo(f"  #{rec.rank} in the model's words: {rec.reason}")
        elif event.kind == "error":
            raise _TurnFailed(event.text)
        elif event.kind == "done":
            answer = event.answer
    if answer is None:
        raise _TurnFailed("the turn ended without an answer")
    if printed_text and not listed:
        typer.echo("")
    if answer.clarifying_question:
        typer.echo(answer.clarifying_question)
    return answer


def ask(
    text: str = typer.Argument(..., help="What you would like to watch."),
    user: str = typer.Option(..., "--user", "-u", help="Your user id (history and feedback)."),
    k: int = typer.Option(5, "-k", "--k", min=1, max=50, help="How many recommendations."),
    rerank: bool | None = typer.Option(
        None, "--rerank/--no-rerank", help="LLM rerank on or off (default: setting agent.rerank)."
    ),
) -> None:
    """One question, one ranked answer (the reply streams as it is written)."""
    recommender = _recommender(rerank)
    try:
        _print_turn(recommender, [Message("user", text)], user, k)
    finally:
        recommender.close()


def _parse_pick(arg: str, last: Answer | None) -> Recommendation:
    if last is None or not last.recommendations:
        raise ValueError("there is no list yet: ask for something first")
    try:
        n = int(arg)
    except ValueError:
        raise ValueError(
            f"expected the number of a pick (1-{len(last.recommendations)}), got {arg!r}"
        ) from None
    if not 1 <= n <= len(last.recommendations):
        raise ValueError(f"expected a pick from 1 to {len(last.recommendations)}, got {n}")
    return last.recommendations[n - 1]


def _command(recommender: Recommender, user: str, line: str, last: Answer | None) -> str:
    """Run one ``/command``; returns what to print."""
    parts = line[1:].split()
    name, args = (parts[0].lower(), parts[1:]) if parts else ("help", [])
    if name in ("like", "dislike") and len(args) == 1:
        pick = _parse_pick(args[0], last)
        recommender.feedback(user, pick.video.id, cast(FeedbackKind, name))
        return f"noted: you {name} {pick.video.title!r}"
    if name == "watched" and len(args) in (1, 2):
        pick = _parse_pick(args[0], last)
        fraction = float(args[1]) if len(args) == 2 else 1.0
        recommender.feedback(user, pick.video.id, "watched", fraction)
        return f"noted: you watched {fraction:.0%} of {pick.video.title!r}"
    if name in ("rate", "rating") and len(args) == 2:
        pick = _parse_pick(args[0], last)
        recommender.feedback(user, pick.video.id, "rating", float(args[1]))
        return f"noted: you rated {pick.video.title!r} {float(args[1]):g}"
    return CHAT_HELP


def chat(
    user: str = typer.Option(..., "--user", "-u", help="Your user id (history and feedback)."),
    k: int = typer.Option(5, "-k", "--k", min=1, max=50, help="How many recommendations a turn."),
    rerank: bool | None = typer.Option(
        None, "--rerank/--no-rerank", help="LLM rerank on or off (default: setting agent.rerank)."
    ),
) -> None:
    """A multi-turn conversation in the terminal; feedback with /like N, /dislike N, /watched N."""
    recommender = _recommender(rerank)
    conversation: list[Message] = []
    last: Answer | None = None
    typer.echo(f"vidrec chat as {user!r}. {CHAT_HELP}")
    try:
        while True:
            try:
                line = input("you> ").strip()
            except EOFError:
                break
            if not line:
                continue
            if line.lower() in ("/quit", "/exit", "/q"):
                break
            if line.lower() == "/new":
                conversation, last = [], None
                typer.echo("(new conversation)")
                continue
            if line.startswith("/"):
                try:
                    typer.echo(_command(recommender, user, line, last))
                except (ValueError, VidrecError) as exc:
                    typer.secho(f"error: {exc}", fg=typer.colors.RED)
                continue
            conversation.append(Message("user", line))
            typer.echo("vidrec> ", nl=False)
            try:
                last = _print_turn(recommender, conversation, user, k)
            except VidrecError as exc:
                conversation.pop()
                typer.secho(f"error: {exc}", fg=typer.colors.RED)
                continue
            summary = last.text or ", ".join(r.video.title for r in last.recommendations)
            conversation.append(Message("assistant", summary))
    finally:
        recommender.close()


def feedback(
    user: str = typer.Argument(..., help="The user id."),
    video_id: str = typer.Argument(..., help="The video id (see `vidrec videos`)."),
    kind: str = typer.Argument(..., help="like | dislike | watched | rating"),
    fraction: float | None = typer.Option(None, "--fraction", help="Watched fraction, 0-1."),
    rating: float | None = typer.Option(None, "--rating", help="Rating, 0-5."),
) -> None:
    """Record feedback; it shapes the user's very next answer."""
    if kind not in FEEDBACK_KINDS:
        raise typer.BadParameter(
            f"expected one of {', '.join(FEEDBACK_KINDS)}, got {kind!r}", param_hint="KIND"
        )
    value = fraction if kind == "watched" else rating if kind == "rating" else None
    recommender = _recommender()
    try:
        recommender.feedback(user, video_id, cast(FeedbackKind, kind), value)
    finally:
        recommender.close()
    typer.echo(f"recorded {kind} of {video_id} for {user}")


def register(app: typer.Typer) -> None:
    app.command("ask")(ask)
    app.command("chat")(chat)
    app.command("feedback")(feedback)
