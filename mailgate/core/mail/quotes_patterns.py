"""Core: the line patterns `quotes.strip_reply` uses (reply headers, forwards, footers) in several languages."""

from __future__ import annotations

import re

# "wrote" in the reply headers of common clients: en, fr, de, nl, es, it, pt, nordic, pl, cs, fi, ru, uk, hu, tr, zh.
_VERB = (
    r"(?:wrote|writes|a\s+[ée]crit|nous\s+a\s+dit|schrieb|schreef|(?:het\s+volgende\s+)?geschreven|escribi[óo]"
    r"|ha\s+scritto|scrisse|escreveu|skrev|napisa[łl](?:\(a\))?|napsal(?:\(a\))?|kirjoitti|написал(?:\(а\))?"
    r"|пише|írta|yazdı|写道|寫道)"
)
# A reply header, possibly joined from two or three wrapped lines, ends with the verb (then maybe a name) and
# a colon, or, Zoho style, with dashes: "---- On Tue, ... wrote ----".
VERB = re.compile(_VERB, re.IGNORECASE)  # cheap pre-filter before ATTRIBUTION
# German and English clients also put the date after the verb: "Max <m@example.de> schrieb am Fr., 28. Apr. 2017
# um 11:53 Uhr:", "John <j@example.com> wrote on 5 March 2024 at 10:12:".
ATTRIBUTION = re.compile(
    rf"^[\s>*-]*+(?P<head>.{{0,400}}?)(?<!\w){_VERB}(?!\w)(?:\s+(?:am|on)\s[^\n]{{0,120}}?|[^:：\n]{{0,150}})"
    r"(?:[:：]|\s-{2,})[\s*-]*+$",
    re.IGNORECASE,
)
# Words that open a dated reply header: "On <date>, X wrote:", "Le <date>, X a écrit :", "Am <date> schrieb X:",
# "El <date>, X escribió:", "Il giorno <date> X ha scritto:", "Op <date> schreef X:", "Den <date> skrev X:".
OPENER = re.compile(r"^[\s>*-]*(?:On|At|Le|Am|El|Il|Op|Den|Em|Dnia|Dňa|Dne|W\s+dniu|Pada|在)\s")
# Horde and friends: "Quoting John Doe <jd@example.com>:", "Zitat von Hans <h@example.de>:"
QUOTING = re.compile(r"^\s*(?:Quoting|Zitat\s+von|Citando|Citation\s+de|Cytuję)\s.{1,200}[:：]\s*$")
# What makes a header dated: a time, a year, or an address.
DATED = re.compile(r"\d{1,2}[:h.]\d{2}|(?:19|20)\d\d|@")
# "2022年1月1日(金) 9:00 Taro <taro@example.com>:" and "2015-10-18 0:17 GMT+03:00 Matt <m@example.org>:"
DATE_ADDRESS = re.compile(r"^\s*(?=\S).{0,200}?(?:19|20)\d\d.{0,200}?<[^<>\s@]+@[^<>\s]+>\s*[:：]\s*$")
# The end of a line that can end a reply header, after its trailing blanks, stars and dashes: a colon, or
# dashes after a blank (`quotes._ends_header`, a cheap pre-filter before the patterns above).
COLONS = (":", "：")
SPACED_DASHES = re.compile(r"\s--")

_FORWARD_NAMES = (
    r"forwarded\s+message|message\s+transf[ée]r[ée]|message\s+r[ée]exp[ée]di[ée]|weitergeleitete\s+nachricht"
    r"|mensaje\s+reenviado|messaggio\s+inoltrato|doorgestuurd\s+bericht|mensagem\s+(?:encaminhada|reencaminhada)"
    r"|vidarebefordrat\s+meddelande|videresendt\s+(?:meddelelse|melding)|wiadomo[śs][ćc]\s+przekazana\s+dalej"
    r"|p[řr]eposlan[áa]\s+zpr[áa]va|v[äa]litetty\s+viesti|пересылаемое\s+сообщение"
)
_ORIGINAL_NAMES = (
    r"original\s+message|message\s+d['’]origine|urspr[üu]ngliche\s+nachricht|original\s*nachricht"
    r"|mensaje\s+original|messaggio\s+originale|oorspronkelijk\s+bericht|origineel\s+bericht|mensagem\s+original"
    r"|oprindelig\s+meddelelse|opprinnelig\s+melding|ursprungligt\s+meddelande|wiadomo[śs][ćc]\s+oryginalna"
    r"|p[ůu]vodn[íi]\s+zpr[áa]va|alkuper[äa]inen\s+viesti|reply\s+message|原始邮件|исходное\s+сообщение"
)
# "---------- Forwarded message ---------", "-------- Message transféré --------", "Begin forwarded message:"
FORWARD = re.compile(
    rf"^[\s*>]*(?:-{{2,}}\s*(?:{_FORWARD_NAMES})\s*-{{2,}}"
    r"|(?:begin\s+forwarded\s+message|d[ée]but\s+du\s+message\s+(?:r[ée]exp[ée]di[ée]|transf[ée]r[ée])"
    r"|anfang\s+der\s+weitergeleiteten\s+(?:nachricht|e-mail)|inicio\s+del\s+mensaje\s+reenviado"
    r"|inizio\s+messaggio\s+inoltrato|begin\s+doorgestuurd\s+bericht|in[íi]cio\s+da\s+mensagem\s+"
    r"(?:encaminhada|reencaminhada))\s*[:：])[\s*]*$",
    re.IGNORECASE,
)
# "-----Original Message-----", "-----Message d'origine-----", "----- Ursprüngliche Nachricht -----"
ORIGINAL = re.compile(rf"^[\s*>]*-{{2,}}\s*(?:{_ORIGINAL_NAMES})\s*-{{2,}}[\s*]*$", re.IGNORECASE)

# Header fields of an Outlook-style block ("From: … Sent: … To: … Subject:") and their meaning.
_FIELDS = {
    "from": ("from", "de", "von", "van", "da", "od", "fra", "från", "lähettäjä", "expéditeur", "remitente",
             "absender", "afzender", "mittente", "发件人", "寄件者"),
    "date": ("sent", "date", "envoyé", "envoyé le", "gesendet", "datum", "enviado", "enviada em", "enviado el",
             "fecha", "inviato", "data", "verzonden", "verstuurd", "sendt", "skickat", "wysłano", "odesláno",
             "lähetetty", "发送时间", "日期", "sent at"),
    "to": ("to", "à", "a", "an", "para", "aan", "til", "till", "do", "komu", "vastaanottaja", "destinataire",
           "destinatario", "收件人"),
    "cc": ("cc", "cci", "bcc", "kopie", "copie", "kopia", "kopio", "抄送"),
    "subject": ("subject", "objet", "sujet", "betreff", "asunto", "oggetto", "onderwerp", "emne", "ämne", "temat",
                "předmět", "aihe", "assunto", "主题", "主旨"),
    "reply-to": ("reply-to", "répondre à", "antwort an", "responder a", "rispondi a", "beantwoorden - aan"),
}
FIELD_KIND = {name: kind for kind, names in _FIELDS.items() for name in names}
# "From: X", "*From:* X", "De : X" (French spacing, no-break spaces included), "发件人: X"
HEADER_FIELD = re.compile(r"^[\s>]*+\*{0,2}\s*+(?P<name>[^\W\d_][\w\- ]{0,22}?)\s*+\*{0,2}\s*+[:：]")

_UNQUOTED = r"(?:mail|outlook|yahoo|gmail|aol|proton|samsung|huawei|xiaomi|android|iphone|ipad|blackberry|windows)"
# Mobile and mail-app footers, whole line: "Sent from my iPhone", "Envoyé de mon iPhone", "Get Outlook for Android".
MOBILE = re.compile(
    r"^[\s(<\[*]*(?:"
    r"sent\s+(?:from|with|via|using)\s+(?:my\s+[\w®™&' .-]{1,40}|" + _UNQUOTED + r"\b[\w®™ .-]{0,40})"
    r"|sent\s+from\s+(?:a\s+)?mobile(?:\s+device)?|from\s+my\s+(?:iphone|ipad|android|mobile|smartphone)[\w ]{0,20}"
    r"|get\s+outlook\s+for\s+\w+|download\s+outlook\s+for\s+\w+"
    r"|envoy[ée]\s+(?:de|depuis|à\s+partir\s+de)\s+(?:mon|ma|l['’]|yahoo|outlook|gmail|mail)[\w®™' .-]{0,40}"
    r"|(?:t[ée]l[ée]charger|obtenir)\s+outlook\s+pour\s+\w+"
    r"|von\s+meinem\s+[\w®™ .-]{1,40}\s+gesendet|gesendet\s+(?:von|mit|vom)\s+(?:meinem|meiner|der|dem|mein|"
    + _UNQUOTED + r")\b[\w®™ .-]{0,40}|diese\s+nachricht\s+wurde\s+von\s+[\w®™ .-]{1,60}\s+gesendet\.?"
    r"|outlook\s+f[üu]r\s+\w+\s+(?:herunterladen|beziehen)|holen\s+sie\s+sich\s+outlook\s+f[üu]r\s+\w+"
    r"|enviado\s+(?:desde|do|de)\s+(?:mi|meu|o\s+meu|" + _UNQUOTED + r")\b[\w®™ .-]{0,40}"
    r"|obtener\s+outlook\s+para\s+\w+|obter\s+o\s+outlook\s+para\s+\w+"
    r"|inviato\s+da(?:l\s+mio)?\s+[\w®™ .-]{1,40}|scarica\s+outlook\s+per\s+\w+"
    r"|(?:verzonden|verstuurd)\s+(?:vanaf|vanuit|met|van)\s+(?:mijn\s+)?[\w®™ .-]{1,40}"
    r"|outlook\s+voor\s+\w+\s+downloaden|sendt\s+fra\s+min\s+[\w®™ .-]{1,40}|skickat\s+fr[åa]n\s+min\s+[\w®™ .-]{1,40}"
    r"|wys[łl]ane\s+z\s+(?:mojego\s+)?[\w®™ .-]{1,40}|從我的\s*iphone\s*傳送|发自我的\s*iphone"
    r")[\s)>\].*]*(?:<https?://[^>\s]*>)?\s*$",
    re.IGNORECASE,
)

QUOTE = re.compile(r"^\s*>")
SIGNATURE = re.compile(r"^\s*--\s*$")  # "-- " (RFC 3676) and the common "--" without the space
UNDERSCORES = re.compile(r"^\s*_{8,}\s*$")  # Outlook separator, mailing-list footers
DELIMITER = re.compile(r"^\s*[-_=*~#+—–·]{3,}\s*$")
# "-Abhishek Kona", "--John", "— Jean", "/John": a one-line sign-off after a blank line at the very end.
DASH_SIGNOFF = re.compile(r"^\s*(?:[-/](?=[^\W\d_])|--\s?|[—–]\s?)[^\W\d_][\w.'’-]*(?:\s[^\W\d_][\w.'’-]*){0,3}\s*$")
# A reply/forward prefix at the start of a subject says which: "Fwd:", "TR:", "WG:", "RV:", "I:", "Doorst:".
FORWARD_SUBJECT = re.compile(r"^\s*(?:\[[^\]]{0,40}\]\s*)*(?:fwd?|tr|transf|wg|rv|enc|i|doorst|pd|vb|vl)\s*[:：]",
                             re.IGNORECASE)
# The warning a mail gateway puts above an outside mail: the first paragraph, removed.
EXTERNAL_BANNER = re.compile(
    r"^[\s\[*]*(?:caution|warning|external|attention|achtung|avertissement|aviso|attenzione|let\s+op)\b.{0,80}?"
    r"(?:originated\s+from\s+outside|from\s+an?\s+external|outside\s+(?:of\s+)?(?:the|your|this|our)\s+"
    r"(?:organi[sz]ation|company)|provient\s+de\s+l['’]ext[ée]rieur|d['’]un\s+exp[ée]diteur\s+externe"
    r"|von\s+au(?:ß|ss)erhalb|externen\s+absender|fuera\s+de\s+la\s+organizaci[óo]n|all['’]esterno"
    r"|buiten\s+de\s+organisatie|van\s+buiten)",
    re.IGNORECASE,
)
