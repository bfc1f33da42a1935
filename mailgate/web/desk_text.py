"""Shell, web: what the supervisors' dashboard says, in French and in English (the desk's default language)."""

from __future__ import annotations

TEXT: dict[str, dict[str, str]] = {
    "fr": {
        "lang": "fr", "title": "Tableau de bord du support", "sign_in": "Connexion des superviseurs",
        "email": "Votre adresse", "ask": "Recevoir un lien de connexion",
        "asked": "Si cette adresse est celle d'un superviseur, un lien de connexion vient de lui être envoyé. "
                 "Il ne sert qu'une fois.",
        "refused": "Ce lien ne permet pas de se connecter (déjà utilisé, expiré ou incomplet). "
                   "Demandez-en un nouveau ci-dessous.",
        "unavailable": "Service momentanément indisponible, réessayez dans un instant.",
        "overview": "Vue d'ensemble", "queue": "File de travail", "logout": "Se déconnecter",
        "signed_in_as": "Connecté :", "backlog": "Demandes ouvertes", "month": "Ce mois-ci",
        "created": "créées", "closed": "fermées", "reopened": "rouvertes", "breached": "hors délai",
        "by_status": "Par statut", "backlog_chart": "Demandes ouvertes, fin de chaque jour (30 jours)",
        "response_chart": "Première réponse, heures (p50, p90 par niveau)",
        "resolution_chart": "Résolution, heures (p50, p90 par niveau)",
        "breach_chart": "Délais dépassés ce mois-ci", "time_chart": "Temps saisi ce mois-ci, par consultant",
        "response_target": "première réponse", "resolution_target": "résolution", "none": "Rien pour l'instant.",
        "ticket": "Demande", "status": "Statut", "level": "Niveau", "priority": "Priorité",
        "assignee": "Consultant", "waiting": "Attente", "breaches": "Délais", "requester": "Demandeur",
        "messages": "Messages", "events": "Événements", "estimates": "Chiffrages", "internal": "note interne",
        "no_ticket": "Pas de telle demande.", "type": "Type", "customer": "Client", "queue_name": "File",
    },
    "en": {
        "lang": "en", "title": "Support desk dashboard", "sign_in": "Supervisors' sign-in",
        "email": "Your address", "ask": "Mail me a sign-in link",
        "asked": "If this address is a supervisor's, a sign-in link has just been sent to it. It works once.",
        "refused": "This link cannot sign you in (already used, expired or incomplete). Ask for a new one below.",
        "unavailable": "Unavailable for a moment, try again shortly.",
        "overview": "Overview", "queue": "Open work", "logout": "Sign out", "signed_in_as": "Signed in:",
        "backlog": "Open requests", "month": "This month", "created": "created", "closed": "closed",
        "reopened": "reopened", "breached": "breached", "by_status": "By status",
        "backlog_chart": "Open requests at the end of each day (30 days)",
        "response_chart": "First response, hours (p50, p90 per level)",
        "resolution_chart": "Resolution, hours (p50, p90 per level)",
        "breach_chart": "Service targets breached this month", "time_chart": "Time logged this month, per consultant",
        "response_target": "first response", "resolution_target": "resolution", "none": "Nothing yet.",
        "ticket": "Request", "status": "Status", "level": "Level", "priority": "Priority",
        "assignee": "Consultant", "waiting": "Waiting", "breaches": "Targets", "requester": "Requester",
        "messages": "Messages", "events": "Events", "estimates": "Estimates", "internal": "internal note",
        "no_ticket": "No such request.", "type": "Type", "customer": "Customer", "queue_name": "Queue",
    },
}
