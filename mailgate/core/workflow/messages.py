"""Core: every reason a person reads in a mail of the workflow (refused commands and keywords, unauthenticated
mail), as a code with its values, said in the mail's language from one catalogue (French and English complete;
a test checks both have every code with the same placeholders). Statuses, request types and workflow actions
in the values are said in that language too, actions as the keyword a consultant types."""

from __future__ import annotations

from decimal import Decimal
from enum import Enum

from mailgate.core.model import STATUS_LABELS, Reason, RequestType, Status
from mailgate.core.workflow.transitions import Action

LOCALES = ("fr", "en")


def text(reason: Reason, locale: str) -> str:
    """The reason as the reader of a mail in `locale` reads it."""
    return say(reason.code, locale, **reason.values)


def say(code: str, locale: str, /, **values: object) -> str:
    """The catalogue's sentence for `code` in `locale` (English when the locale has none), values filled in."""
    sentences = CATALOGUE[code]
    lang = locale if locale in sentences else "en"
    return sentences[lang].format(**{k: word(v, lang) for k, v in values.items()})


def word(value: object, locale: str) -> str:
    """A value as the sentence says it: a status by its label, an action by its keyword, a list joined."""
    if isinstance(value, Status):
        return f"« {status_label(value, locale)} »" if locale == "fr" else f'"{status_label(value, locale)}"'
    if isinstance(value, RequestType):
        return TYPE_LABELS[locale][value]
    if isinstance(value, Action):
        return ACTION_WORDS[locale].get(value, value.value)
    if isinstance(value, tuple | list | frozenset):
        items = [word(v, locale) for v in value]
        return ", ".join(items) if items else ("rien" if locale == "fr" else "nothing")
    if isinstance(value, Reason):
        return text(value, locale)
    if isinstance(value, Enum):
        return str(value.value)
    return str(value)


def status_label(status: Status, locale: str) -> str:
    return STATUS_LABELS[status] if locale == "fr" else STATUS_LABELS_EN[status]


STATUS_LABELS_EN: dict[Status, str] = {
    Status.OPEN: "Open", Status.TAKEN: "Taken", Status.IN_PROGRESS: "In progress", Status.WAITING: "On hold",
    Status.AWAITING_ESTIMATE_APPROVAL: "Awaiting estimate approval", Status.IN_REALIZATION: "In realisation",
    Status.ANSWER_SENT: "Answer sent", Status.CLOSED: "Closed",
}
TYPE_LABELS: dict[str, dict[RequestType, str]] = {
    "fr": {RequestType.ASSISTANCE: "assistance utilisateur", RequestType.INCIDENT: "incident applicatif",
           RequestType.EVOLUTION: "évolution applicative"},
    "en": {RequestType.ASSISTANCE: "user assistance", RequestType.INCIDENT: "application incident",
           RequestType.EVOLUTION: "application change"},
}
# what a consultant types for each action they can ask for (the customer's own actions are not listed)
ACTION_WORDS: dict[str, dict[Action, str]] = {
    "fr": {Action.TAKE: "prendre", Action.START: "statut en cours", Action.WAIT: "attente",
           Action.SEND_ESTIMATE: "chiffrage", Action.RESOLVE: "résolu", Action.CLOSE: "fermer",
           Action.REOPEN: "rouvrir", Action.MERGE: "fusionner #N"},
    "en": {Action.TAKE: "take", Action.START: "status in_progress", Action.WAIT: "wait",
           Action.SEND_ESTIMATE: "estimate", Action.RESOLVE: "resolve", Action.CLOSE: "close",
           Action.REOPEN: "reopen", Action.MERGE: "merge #N"},
}
CONSULTANT_ACTIONS = frozenset(ACTION_WORDS["en"])


def decimal_text(value: Decimal | str, locale: str) -> str:
    """2.50 -> '2,5' (fr) / '2.5' (en); 1200.5 -> '1 200,50' / '1,200.50' (money keeps two decimals)."""
    number = Decimal(str(value))
    if number == number.to_integral_value():
        text = f"{number:,.0f}"
    else:
        text = f"{number.normalize():,f}"
    return _french(text) if locale == "fr" else text


def _french(number: str) -> str:
    """'1,200.50' -> '1 200,50' (a no-break space between thousands)."""
    return number.replace(",", "\u00a0").replace(".", ",")


def amount_text(value: Decimal | str, currency: str, locale: str) -> str:
    """1200.5 -> '1 200,50 EUR HT' (fr) / 'EUR 1,200.50 excl. VAT' (en)."""
    number = Decimal(str(value))
    text = f"{number:,.0f}" if number == number.to_integral_value() else f"{number:,.2f}"
    if locale == "fr":
        return _french(text) + f" {currency} HT"
    return f"{currency} {text} excl. VAT"


def days_text(value: Decimal | str, locale: str) -> str:
    """Days of work: '1 jour', '2,5 jours' / '1 day', '2.5 days'."""
    number = Decimal(str(value))
    unit = ("jour" if number <= 1 else "jours") if locale == "fr" else ("day" if number == 1 else "days")
    return f"{decimal_text(number, locale)} {unit}"


def minutes_text(minutes: int, locale: str) -> str:
    """90 -> '1 h 30' (fr) / '1h30' (en); 45 -> '45 min'."""
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest} min"
    if locale == "fr":
        return f"{hours} h {rest:02d}" if rest else f"{hours} h"
    return f"{hours}h{rest:02d}" if rest else f"{hours}h"


CATALOGUE: dict[str, dict[str, str]] = {
    # a command line that does not read (commands.parse)
    "takes_no_argument": {
        "fr": "cette commande ne prend pas d'argument (reçu « {got} »)",
        "en": "this command takes no argument (got \"{got}\")"},
    "unknown_status": {
        "fr": "statut inconnu « {got} » ; l'un de : {choices}",
        "en": "unknown status \"{got}\"; one of: {choices}"},
    "assign_whom": {
        "fr": "à qui ? donnez l'adresse ou le nom du consultant (assigner bruno)",
        "en": "to whom? give the consultant's address or name (assign bruno)"},
    "unknown_level": {
        "fr": "niveau inconnu « {got} » : N1, N2, N3 ou N4",
        "en": "unknown level \"{got}\": N1, N2, N3 or N4"},
    "bad_duration": {
        "fr": "durée illisible dans « {got} » : par exemple 1h30, 45m, 2h, 1,5h, 0:45",
        "en": "cannot read a duration in \"{got}\": e.g. 1h30, 45m, 2h, 1.5h, 0:45"},
    "duration_range": {
        "fr": "{minutes} minutes : un temps passé va de 1 minute à 24 heures",
        "en": "{minutes} minutes: a time entry is between 1 minute and 24 hours"},
    "estimate_unreadable": {
        "fr": "« {got} » illisible : donnez un montant (1500 €) et/ou une charge (3j)",
        "en": "cannot read \"{got}\": give an amount (1500 €) and/or days (3d, 3 days)"},
    "estimate_two_days": {"fr": "deux charges en jours données", "en": "two day counts given"},
    "estimate_two_amounts": {"fr": "deux montants donnés", "en": "two amounts given"},
    "estimate_empty": {
        "fr": "donnez un montant (par exemple 1500 €) et/ou une charge (par exemple 3j)",
        "en": "give an amount (e.g. 1500 €) and/or days (e.g. 3d)"},
    "wait_on_whom": {
        "fr": "attente de qui ? client ou fournisseur (reçu « {got} »)",
        "en": "wait on whom? customer or vendor (got \"{got}\")"},
    "merge_which": {
        "fr": "fusionner avec quel ticket ? par exemple fusionner #88 (reçu « {got} »)",
        "en": "merge into which ticket? e.g. merge #88 (got \"{got}\")"},
    "unknown_priority": {
        "fr": "priorité inconnue « {got} » ; l'une de : basse, normale, haute, urgente",
        "en": "unknown priority \"{got}\"; one of: low, normal, high, urgent"},
    "unknown_type": {
        "fr": "type inconnu « {got} » ; l'un de : assistance, incident, evolution",
        "en": "unknown type \"{got}\"; one of: assistance, incident, evolution"},
    "unknown_command": {"fr": "commande inconnue « {got} »", "en": "unknown command \"{got}\""},
    "command_after_text": {
        "fr": "cette ligne ressemble à une commande mais vient après du texte : rien n'a été appliqué ni envoyé ; "
              "mettez toutes les commandes en tête de la réponse, ou reformulez la ligne si c'est du texte",
        "en": "this line looks like a command but comes after text: nothing was applied or sent; put every "
              "command at the top of the reply, or reword the line if it is text"},
    "too_many_commands": {
        "fr": "plus de {limit} lignes de commande : rien n'a été appliqué",
        "en": "more than {limit} command lines: nothing was applied"},
    # a command that reads but cannot apply (agent_commands)
    "closed_reopen_first": {
        "fr": "le ticket #{ticket} est fermé : rouvrez-le d'abord (rouvrir)",
        "en": "ticket #{ticket} is closed: reopen it first (reopen)"},
    "status_already": {"fr": "le ticket est déjà {status}", "en": "the ticket is already {status}"},
    "status_back_to_open": {
        "fr": "un ticket ne revient pas à {status} ; utilisez rouvrir ou statut en cours",
        "en": "a ticket cannot go back to {status}; use reopen or status in_progress"},
    "status_by_estimate": {
        "fr": "un ticket n'attend la validation d'un chiffrage qu'en l'envoyant : utilisez chiffrage",
        "en": "a ticket waits for an estimate's approval only by sending one: use estimate"},
    "status_by_approval": {
        "fr": "seule la validation du chiffrage par le client lance la réalisation",
        "en": "only the customer's approval of the estimate starts the realisation"},
    "no_such_agent": {
        "fr": "aucun consultant « {who} » dans la configuration",
        "en": "no consultant called \"{who}\" in the config"},
    "no_level_above": {
        "fr": "le ticket est au niveau N{level} : il n'y a pas de niveau au-dessus de N4",
        "en": "the ticket is at N{level}: there is no level above N4"},
    "escalate_goes_up": {
        "fr": "le ticket est déjà au niveau N{level} : escalader fait monter (assigner pour le confier)",
        "en": "the ticket is already at N{level}: escalate goes up (use assign to hand it over)"},
    "no_such_ticket": {"fr": "il n'y a pas de ticket #{ticket}", "en": "there is no ticket #{ticket}"},
    "merged_elsewhere": {
        "fr": "le ticket #{ticket} est lui-même fusionné dans le #{into} : fusionnez dans celui-là",
        "en": "ticket #{ticket} is itself merged into #{into}: merge into that one"},
    "merge_into_itself": {
        "fr": "un ticket ne peut pas être fusionné avec lui-même",
        "en": "a ticket cannot be merged into itself"},
    "merge_into_closed": {
        "fr": "le ticket #{ticket} est fermé : rouvrez-le d'abord",
        "en": "ticket #{ticket} is closed: reopen it first"},
    "resolve_needs_text": {
        "fr": "résolu transmet votre réponse au client : écrivez-la sous les lignes de commande",
        "en": "resolve relays your answer to the customer: write it below the command lines"},
    "kb_not_resolved": {
        "fr": "kb fait un article d'un ticket résolu ou fermé : résolvez ou fermez le #{ticket} d'abord "
              "(résolu ou fermer avant kb dans le même mail)",
        "en": "kb makes an article of an answered or closed ticket: resolve or close #{ticket} first "
              "(resolve or close before kb in the same mail)"},
    # the state machine (transitions.move), for consultants: keywords they type, only their ticket type's
    "only_for_evolution": {
        "fr": "{action} ne vaut que pour les tickets d'évolution applicative (celui-ci : {type})",
        "en": "{action} applies to application change tickets only (this one: {type})"},
    "not_possible": {
        "fr": "{action} n'est pas possible en statut {status}{after} ; possible : {possible}",
        "en": "{action} is not possible in status {status}{after}; possible: {possible}"},
    "after_previous": {
        "fr": " (où le mettent vos commandes précédentes ; il est {shown})",
        "en": " (where your previous commands put it; it is {shown})"},
    # a consultant's mail we cannot prove is theirs (authn)
    "not_a_reply": {
        "fr": "il ne répond à aucune notification qui vous a été envoyée (répondez à l'une de nos notifications)",
        "en": "it does not answer a notification sent to you (reply to one of our notifications)"},
    "not_a_reply_nor_signed": {
        "fr": "il ne répond à aucune notification qui vous a été envoyée et ne porte pas de résultat DKIM ou "
              "DMARC valide pour {domain} d'un serveur de confiance ({servers})",
        "en": "it does not answer a notification sent to you, and carries no passing DKIM or DMARC result for "
              "{domain} from a trusted server ({servers})"},
    # a customer's keyword that does not count (customer_flow)
    "nothing_awaited": {
        "fr": "le ticket #{ticket} n'attend ni validation ni confirmation",
        "en": "ticket #{ticket} is not waiting for an approval or a confirmation"},
    "wrong_question": {
        "fr": "ce mot-clé ne répond pas à ce qu'attend le ticket #{ticket}",
        "en": "this keyword does not answer what ticket #{ticket} is waiting for"},
    "not_an_approver": {
        "fr": "{sender} n'est ni le demandeur ni un valideur de ce client",
        "en": "{sender} is neither the requester nor an approver for this customer"},
    "not_in_reply": {
        "fr": "le mot-clé ne compte qu'en réponse au message qui le demande",
        "en": "the keyword counts only in a reply to the mail that asked for it"},
}
