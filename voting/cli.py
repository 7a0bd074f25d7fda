"""`flask --app wsgi ...` commands. They parse arguments and call services; they never commit."""

from __future__ import annotations

import getpass
import json
import os
import sys
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from . import cards, display_links, results, services, transfer, window
from .audit import verify_chain
from .ballots import card_keys
from .errors import ImportRejectedError, VotingError
from .models import ROLES, VOTER_GROUPS
from .queries import current_gala
from .roles import ADMIN
from .validation import GALA_TIMEZONE


def _cli_actor() -> str:
    """Who ran the command, as the operating system knows them."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name for this uid (e.g. in a bare container)
        return f"cli:uid-{os.getuid()}"


CLI_ACTOR = _cli_actor()
DEMO_FILE = Path(__file__).parent / "demo" / "gala.json"


def _fail(error: VotingError) -> None:
    click.echo(f"Error: {error.message}", err=True)
    for field, reason in error.errors.items():
        click.echo(f"  {field}: {reason}", err=True)
    for row, reason in getattr(error, "rows", []):
        click.echo(f"  {row}: {reason}", err=True)
    sys.exit(1)


def _need_gala():  # noqa: ANN202
    gala = current_gala()
    if gala is None:
        click.echo("Error: there is no gala yet (run `flask --app wsgi demo` or create one "
                   "in the admin).", err=True)
        sys.exit(1)
    return gala


organizer_cli = AppGroup("organizer", help="Organizer accounts.")
gala_cli = AppGroup("gala", help="Move a whole gala definition in and out as JSON.")
audit_cli = AppGroup("audit", help="The audit trail.")
tokens_cli = AppGroup("tokens", help="Voting cards.")
voting_cli = AppGroup("voting", help="The voting window.")
display_cli = AppGroup("display", help="Read-only display links for the hall's screens.")


@organizer_cli.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice(ROLES), default=ADMIN, show_default=True,
              help="admin: everything; chair: results, tie decisions, the protocol; "
                   "desk: the cards, never a result; presenter: drives the reveal.")
def create_organizer(email: str, role: str) -> None:
    """Create an organizer; the password comes from ORGANIZER_PASSWORD or a hidden prompt."""
    password = os.environ.get("ORGANIZER_PASSWORD")
    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        organizer = services.create_organizer(CLI_ACTOR, email, password, role)
    except VotingError as error:
        _fail(error)
    click.echo(f"Organizer {organizer.email} created ({organizer.role}).")


@organizer_cli.command("role")
@click.argument("email")
@click.argument("role", type=click.Choice(ROLES))
def set_organizer_role(email: str, role: str) -> None:
    """Give an organizer another role (the last active admin keeps theirs)."""
    try:
        organizer = services.set_organizer_role(CLI_ACTOR, email, role)
    except VotingError as error:
        _fail(error)
    click.echo(f"Organizer {organizer.email} is now: {organizer.role}.")


@organizer_cli.command("list")
def list_organizers() -> None:
    """Every organizer with their role, whether they can log in, and their last login."""
    listed = services.list_organizers()
    if not listed:
        click.echo("No organizers yet: `organizer create EMAIL` adds the first admin.")
        return
    width = max(len(organizer.email) for organizer in listed)
    for organizer in listed:
        last = (organizer.last_login_at.astimezone(GALA_TIMEZONE).strftime("%Y-%m-%d %H:%M")
                if organizer.last_login_at else "never")
        state = "active" if organizer.active else "deactivated"
        click.echo(f"{organizer.email:<{width}}  {organizer.role:<9}  {state:<11}  "
                   f"last login: {last}")


def _set_active(email: str, active: bool, done: str) -> None:
    try:
        # The shell is the way back in (`organizer create`, `activate`), so here even the last
        # admin may be deactivated.
        services.set_organizer_active(CLI_ACTOR, email, active=active, keep_an_admin=False)
    except VotingError as error:
        _fail(error)
    click.echo(done)


@organizer_cli.command("deactivate")
@click.argument("email")
def deactivate_organizer(email: str) -> None:
    """Stop an organizer from logging in (their entries in the audit trail stay)."""
    _set_active(email, False, f"Organizer {email} can no longer log in.")


@organizer_cli.command("activate")
@click.argument("email")
def activate_organizer(email: str) -> None:
    """Let a deactivated organizer log in again."""
    _set_active(email, True, f"Organizer {email} can log in again.")


@organizer_cli.command("ensure-demo")
def ensure_demo_organizer() -> None:
    """Make sure the demo organizer exists and print how to log in (embedded default only)."""
    if not current_app.config.get("ALLOW_DEMO_ORGANIZER"):
        click.echo("Error: no demo organizer in production; use `organizer create`.", err=True)
        sys.exit(1)
    email, password, created = services.ensure_demo_organizer(current_app.instance_path)
    click.echo(f"Demo organizer {'created' if created else 'ready'}: {email}")
    if password:
        click.echo(f"Password: {password}")
    else:
        click.echo("Password: changed since it was generated (not shown).")


@click.command("demo")
@with_appcontext  # a top-level command: not wrapped by an AppGroup like the others
def load_demo() -> None:
    """Load the demo gala (modelled on Local-SoMe'23). Running it again changes nothing."""
    doc = json.loads(DEMO_FILE.read_text(encoding="utf-8"))
    year = doc["gala"]["date"][:4]
    existing = transfer.find_gala(doc["gala"]["name"]) or transfer.find_gala(year)
    if existing is not None:
        # Renamed since, or another gala took the demo's year: either way, leave it be.
        click.echo(f"Demo gala already loaded (or {year} taken): {existing.name}")
        return
    try:
        gala = transfer.import_gala("cli:demo", doc)
    except VotingError as error:
        _fail(error)
    click.echo(f"Demo gala loaded: {gala.name} ({len(gala.categories)} categories, "
               f"{len(gala.profiles)} profiles)")


@gala_cli.command("export")
@click.argument("file", type=click.Path(dir_okay=False, writable=True, allow_dash=True))
@click.option("--gala", "which", help="Year or name of the gala (default: the current one).")
def export_gala(file: str, which: str | None) -> None:
    """Write the gala definition to FILE ('-' for standard output)."""
    gala = transfer.find_gala(which) if which else _need_gala()
    if gala is None:
        click.echo(f"Error: no gala {which!r}.", err=True)
        sys.exit(1)
    text = transfer.gala_json(gala)
    if file == "-":
        click.echo(text, nl=False)
    else:
        Path(file).write_text(text, encoding="utf-8")
        click.echo(f"Exported {gala.name} to {file}")


@gala_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
def import_gala(file: str) -> None:
    """Create a gala from a definition in FILE; all or nothing."""
    try:
        raw = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
        doc = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        _fail(ImportRejectedError(f"{file} is not valid UTF-8 JSON: {error}", []))
    try:
        gala = transfer.import_gala(CLI_ACTOR, doc,
                                    max_image_bytes=current_app.config["MAX_IMAGE_BYTES"])
    except VotingError as error:
        _fail(error)
    click.echo(f"Imported {gala.name}: {len(gala.categories)} categories, "
               f"{len(gala.profiles)} profiles.")


@audit_cli.command("verify")
def verify_audit() -> None:
    """Check the audit trail's hash chain; exit 0 when intact, 1 when not."""
    report = verify_chain()
    if report.intact:
        click.echo(f"Audit trail intact: {report.entries} entries, head {report.head}")
        return
    click.echo(f"Audit trail BROKEN ({len(report.problems)} problems in {report.entries} "
               "entries):", err=True)
    for problem in report.problems:
        click.echo(f"  {problem}", err=True)
    sys.exit(1)


def _local(moment) -> str:  # noqa: ANN001
    return moment.astimezone(GALA_TIMEZONE).strftime("%Y-%m-%d %H:%M")


def _minutes(delta) -> str:  # noqa: ANN001
    minutes = max(round(delta.total_seconds() / 60), 0)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


@voting_cli.command("status")
def voting_status() -> None:
    """Show the current gala's voting phase, closing time and cards per group."""
    gala = _need_gala()
    state = window.window_of(gala)
    click.echo(f"{gala.name}: {state.phase}")
    if state.phase == window.CLOSED and state.closed_at is not None:
        as_scheduled = gala.closed_at is None or gala.closed_at == gala.closes_at
        scheduled = " (as scheduled)" if as_scheduled else ""
        click.echo(f"Closed at: {_local(state.closed_at)} ({GALA_TIMEZONE.key}){scheduled}")
    elif state.closes_at is not None:
        left = f", in {_minutes(state.remaining)}" if state.remaining is not None else ""
        click.echo(f"Closes at: {_local(state.closes_at)} ({GALA_TIMEZONE.key}){left}")
    counts = [count for count in window.card_counts(gala) if count.issued]
    if counts:
        click.echo("Cards: " + "; ".join(
            f"{count.group} {count.issued} issued, {count.used} used, {count.revoked} revoked"
            for count in counts))
    if gala.receipts_published_at is not None:
        click.echo(f"Receipts published: {_local(gala.receipts_published_at)}")


@voting_cli.command("open")
@click.option("--closes-at", help='Scheduled end of voting, Warsaw time: "2026-11-28 21:30".')
def voting_open(closes_at: str | None) -> None:
    """Open voting in the current gala (nominees and methods freeze for good)."""
    try:
        gala = services.open_voting(CLI_ACTOR, _need_gala().id,
                                    **({"closes_at": closes_at} if closes_at else {}))
    except VotingError as error:
        _fail(error)
    until = f" until {_local(gala.closes_at)}" if gala.closes_at else ""
    click.echo(f"Voting is open{until}: {gala.name}")


@voting_cli.command("close")
def voting_close() -> None:
    """Close voting in the current gala now, for good."""
    try:
        gala = services.close_voting(CLI_ACTOR, _need_gala().id)
    except VotingError as error:
        _fail(error)
    click.echo(f"Voting is closed: {gala.name}")


@voting_cli.command("schedule-close")
@click.argument("when", required=False)
@click.option("--clear", is_flag=True, help="Remove the scheduled closing time.")
def voting_schedule_close(when: str | None, clear: bool) -> None:
    """Set or move the scheduled end of voting: WHEN is Warsaw time, "2026-11-28 21:30"."""
    if bool(when) == clear:
        click.echo('Error: give a time ("2026-11-28 21:30") or --clear, not both.', err=True)
        sys.exit(1)
    try:
        gala = services.schedule_close(CLI_ACTOR, _need_gala().id, None if clear else when)
    except VotingError as error:
        _fail(error)
    if gala.closes_at is None:
        click.echo(f"No scheduled closing time: {gala.name}")
    else:
        click.echo(f"Voting closes at {_local(gala.closes_at)} ({GALA_TIMEZONE.key}): "
                   f"{gala.name}")


@voting_cli.command("publish-receipts")
def voting_publish_receipts() -> None:
    """Publish the receipts of counted ballots (after closing) at /receipts."""
    try:
        gala = services.publish_receipts(CLI_ACTOR, _need_gala().id)
    except VotingError as error:
        _fail(error)
    click.echo(f"Receipts published: {len(window.receipts_of(gala))} ({gala.name})")


@tokens_cli.command("issue")
@click.option("--group", required=True, type=click.Choice(VOTER_GROUPS), help="Voter group.")
@click.option("--count", type=int, help="How many unlabelled cards.")
@click.option("--label", "labels", multiple=True, help="One card per label (a juror's name).")
@click.option("--recuse-unit", "units", multiple=True,
              help="Local government whose profiles these cards may not vote for.")
@click.option("--recuse-profile", "profiles", multiple=True, type=int,
              help="Profile id these cards may not vote for.")
def issue_tokens(group: str, count: int | None, labels: tuple[str, ...],
                 units: tuple[str, ...], profiles: tuple[int, ...]) -> None:
    """Issue cards for the current gala; prints CSV code,url,group,label (the only copy)."""
    if count is None and not labels:
        click.echo("Error: give --count N or one --label per card.", err=True)
        sys.exit(1)
    try:
        issued = cards.issue_cards(CLI_ACTOR, _need_gala().id, group,
                                   card_keys(current_app.config), count=count, labels=labels,
                                   recused_profile_ids=profiles, recused_units=units)
    except VotingError as error:
        _fail(error)
    click.echo(cards.cards_csv(issued), nl=False)


# --- Results: the tally, the ballot box, the recount -----------------------------------------

results_cli = AppGroup("results", help="Sealed results: check their commitments, reveal one.")
ballots_cli = AppGroup("ballots", help="The anonymised ballot box.")


def _sealed_gala():  # noqa: ANN202
    """The current gala once its results are sealed (a passed scheduled close seals them)."""
    gala = _need_gala()
    if gala.sealed_at is None:
        phase = window.voting_phase(gala)
        click.echo(f"Error: results are sealed when voting closes (voting in {gala.name} is "
                   f"{phase}).", err=True)
        sys.exit(1)
    return gala


SCORE_HEADINGS = {"single": "Votes", "ranked": "Points", "score": "Mean", "approval": "Approvals",
                  "irv": "Last round"}


def _figure(value: float | None) -> str:
    if value is None:
        return "-"
    return str(value) if isinstance(value, int) else f"{value:.3f}"


def _nominee(summary: dict[str, Any], nominee_id: int) -> str:
    name = next((row["name"] for row in summary["ranking"] if row["nominee_id"] == nominee_id),
                None)
    return f"{name} (#{nominee_id})" if name else f"#{nominee_id}"


def _mark(summary: dict[str, Any], row: dict[str, Any], note: str | None) -> str:
    if row["nominee_id"] in summary["winners"]:
        return "WINNER (ex aequo)" if len(summary["winners"]) > 1 else "WINNER"
    if row["nominee_id"] in summary["tied"]:
        return "TIED"
    return note or ""


def _print_outcome(number: int, outcome: results.Outcome) -> None:
    summary = outcome.summary()
    groups = ", ".join(f"{group} {weight}%" for group, weight in
                       outcome.category.weights().items())
    click.echo(f"{number}. {summary['name']} [{summary['slug']}]: {summary['method']}"
               + (f", {groups}" if groups else "")
               + ("" if summary["award"] == "award" else f", {summary['award']}"))
    if not outcome.category.balloted:
        click.echo("   Decided by the chapter, without ballots.")
    else:
        click.echo(f"   Ballots: {summary['ballots']}, abstentions: {summary['abstentions']}")
    counted = {row["nominee_id"]: row for row in outcome.figures.get("ranking", [])}
    if summary["ranking"]:
        width = max(len("Nominee"), *(len(row["name"]) for row in summary["ranking"]))
        heading = ("Share" if len(outcome.category.groups) > 1
                   else SCORE_HEADINGS.get(summary["method"], "Score"))
        scores = summary["method"] == "score"
        click.echo(f"   {'Rank':>4}  {'Nominee':<{width}}  {heading:>10}"
                   + ("  Scores" if scores else ""))
        for row in summary["ranking"]:
            figures = counted.get(row["nominee_id"], {})
            mark = _mark(summary, row, figures.get("note"))
            number = f"  {figures.get('scores', 0):>6}" if scores else ""
            click.echo(f"   {row['rank']:>4}  {row['name']:<{width}}  "
                       f"{_figure(row['score']):>10}{number}  {mark}".rstrip())
    if summary["tie_breaks"]:
        click.echo(f"   Tie-breaks: {'; '.join(summary['tie_breaks'])}")
    if summary["tie"]:
        tied = ", ".join(_nominee(summary, n) for n in summary["tied"])
        click.echo(f"   TIE between {tied}: awaiting the jury chair's decision.")
    elif summary["awaiting_decision"]:
        click.echo("   No winner yet: awaiting the jury chair's decision.")
    else:
        winners = ", ".join(_nominee(summary, n) for n in summary["winners"])
        label = "Winners (ex aequo)" if len(summary["winners"]) > 1 else "Winner"
        margin = f", margin {_figure(summary['margin'])}" if summary["margin"] else ""
        decided = f", decided by {summary['decided_by']}" if summary["decided_by"] else ""
        click.echo(f"   {label}: {winners}{margin}{decided}")
    decision = summary["decision"]
    if decision:
        click.echo(f"   Decision by {decision['by']} at {decision['at']}: {decision['reason']}")
    state = "revealed" if summary["revealed"] else "sealed, not revealed"
    click.echo(f"   Commitment (version {summary['version']}, {state}): "
               f"{summary['commitment']}")


@click.command("tally")
@click.option("--json", "as_json", is_flag=True, help='Print {"categories": [...]} as JSON.')
@with_appcontext
def tally_results(as_json: bool) -> None:
    """Print the sealed results of the current gala, once voting has closed."""
    gala = _sealed_gala()
    sealed = [outcome for outcome in results.outcomes(gala) if outcome.sealed]
    if as_json:
        click.echo(json.dumps({"categories": [o.summary() for o in sealed]},
                              ensure_ascii=False, indent=2))
        return
    click.echo(f"{gala.name}: results sealed at {_local(gala.sealed_at)} "
               f"({GALA_TIMEZONE.key}), ballot box {gala.ballot_box_fingerprint}")
    for number, outcome in enumerate(sealed, start=1):
        click.echo()
        _print_outcome(number, outcome)


@ballots_cli.command("export")
@click.argument("file", type=click.Path(dir_okay=False, writable=True, allow_dash=True))
def export_ballots(file: str) -> None:
    """Write the anonymised ballot box to FILE as JSON ('-' for standard output), after the
    close: no card, no receipt, in an order that says nothing."""
    gala = _sealed_gala()
    box = results.export_ballot_box(CLI_ACTOR, gala)
    text = json.dumps(box.document, ensure_ascii=False, indent=1) + "\n"
    if file == "-":
        click.echo(text, nl=False)
    else:
        try:
            Path(file).write_text(text, encoding="utf-8")
        except OSError as error:
            click.echo(f"Error: cannot write {file}: {error.strerror or error}", err=True)
            sys.exit(1)
        click.echo(f"Exported {len(box.document['ballots'])} ballots of {gala.name} to {file} "
                   f"(fingerprint {box.fingerprint})")
    if box.fingerprint != gala.ballot_box_fingerprint:
        click.echo(f"Warning: the stored ballots no longer match the ballot box sealed at the "
                   f"close (fingerprint {gala.ballot_box_fingerprint}).", err=True)


def _read_export(file: str) -> Any:
    """A JSON file's content, or exit 1 with a message saying what is wrong with it."""
    try:
        raw = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
        return json.loads(raw)
    except FileNotFoundError:
        problem = "no such file"
    except OSError as error:
        problem = f"cannot read it ({error.strerror or error})"
    except (UnicodeDecodeError, ValueError, RecursionError):
        problem = "not a ballot-box export (not UTF-8 JSON)"
    click.echo(f"Error: {file}: {problem}.", err=True)
    sys.exit(1)


@click.command("recount")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@with_appcontext
def recount_ballots(file: str) -> None:
    """Count every category again from a ballot-box export (`ballots export`) alone and compare
    with the sealed results; exit 0 when everything matches, 1 when anything does not."""
    document = _read_export(file)
    gala = _sealed_gala()
    try:
        report = results.recount(gala, document)
    # A hand-edited export can carry any type anywhere: whatever it breaks, say so plainly.
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        click.echo(f"Error: {file}: cannot be recounted: {error}", err=True)
        sys.exit(1)
    exported = document.get("gala") if isinstance(document.get("gala"), dict) else {}
    lines = [("gala", exported.get("year") == gala.year,
              f"export of {exported.get('name')!r} ({exported.get('year')}), sealed "
              f"{gala.name!r} ({gala.year})"), *report.lines]
    width = max(len(what) for what, _, _ in lines)
    for what, ok, detail in lines:
        click.echo(f"{what:<{width}}  {'OK' if ok else 'MISMATCH':<8}  {detail}")
    wrong = [what for what, ok, _ in lines if not ok]
    if not wrong:
        click.echo(f"Verdict: the recount matches the sealed results ({len(lines)} checks).")
        return
    click.echo(f"Verdict: MISMATCH: {len(wrong)} of {len(lines)} checks differ from the sealed "
               f"results ({', '.join(wrong)}).")
    sys.exit(1)


@results_cli.command("verify")
def verify_results() -> None:
    """Check every stored result version against its commitments; exit 0 when all hold."""
    gala = _sealed_gala()
    versions = sum(len(category.seals) for category in results.gala_categories(gala))
    problems = results.verify_seals(gala)
    if not problems:
        click.echo(f"All commitments hold: {versions} sealed versions ({gala.name}).")
        return
    many = "s" if len(problems) > 1 else ""
    click.echo(f"Commitments BROKEN ({len(problems)} problem{many} in {versions} versions):",
               err=True)
    for problem in problems:
        click.echo(f"  {problem}", err=True)
    sys.exit(1)


@results_cli.command("reveal")
@click.argument("slug")
def reveal_result(slug: str) -> None:
    """Reveal one category: its result and nonce become public at /api/v1/results."""
    gala = _sealed_gala()
    category = next((c for c in results.gala_categories(gala) if c.slug == slug), None)
    if category is None:
        click.echo(f"Error: no category {slug!r} in {gala.name}.", err=True)
        sys.exit(1)
    try:
        category = results.reveal_category(CLI_ACTOR, category.id)
    except VotingError as error:
        _fail(error)
    summary = results.outcome_of(category).summary()
    winners = ", ".join(_nominee(summary, n) for n in summary["winners"])
    click.echo(f"Revealed {category.name_pl} [{slug}]: {winners} "
               f"(version {summary['version']}, commitment {summary['commitment']})")


@display_cli.command("link")
@click.option("--label", default="", help='Where the link is used, e.g. "Projector".')
def create_display_link(label: str) -> None:
    """Create a display link and print its address (PUBLIC_BASE_URL)."""
    try:
        link, _token = display_links.create_link(CLI_ACTOR, label)
    except VotingError as error:
        _fail(error)
    click.echo(f"Display link #{link.id} {link.label!r}:")
    click.echo(display_links.url_of(link))


@display_cli.command("links")
def list_display_links() -> None:
    """List the display links: id, label, who created it and when, and valid or revoked."""
    links = display_links.all_links()
    if not links:
        click.echo("No display links.")
    for link in links:
        state = (f"revoked {_local(link.revoked_at)}" if link.revoked_at
                 else display_links.url_of(link))
        click.echo(f"#{link.id}\t{link.label or '-'}\t{link.created_by}\t"
                   f"{_local(link.created_at)}\t{state}")


@display_cli.command("revoke")
@click.argument("link_id", type=int)
def revoke_display_link(link_id: int) -> None:
    """Revoke a display link: its screen goes dark at its next poll."""
    try:
        link = display_links.revoke_link(CLI_ACTOR, link_id)
    except VotingError as error:
        _fail(error)
    click.echo(f"Revoked display link #{link.id} {link.label!r}.")


def register_cli(app: Flask) -> None:
    for command in (organizer_cli, gala_cli, audit_cli, voting_cli, tokens_cli, display_cli,
                    load_demo, results_cli, ballots_cli, tally_results, recount_ballots):
        app.cli.add_command(command)
