"""Word pools and the cheap text builders the demo data uses (names, titles, storage-format bodies).

Bodies are assembled from a pool of paragraphs built once per seed, so a million bodies cost
a few list joins each, not a million calls into a text generator. The pool deliberately holds
everything a CSV writer finds awkward: CR, LF and CRLF line breaks, double quotes, commas,
tabs, accents, CJK and emoji.
"""

import random

# (display, ascii) pairs: the ascii form makes usernames and personal space keys.
FIRST_NAMES = (
    ("Alice", "alice"), ("Bob", "bob"), ("Chloé", "chloe"), ("David", "david"), ("Émilie", "emilie"),
    ("François", "francois"), ("Grace", "grace"), ("Hiroshi", "hiroshi"), ("Ingrid", "ingrid"),
    ("José", "jose"), ("Kai", "kai"), ("Léa", "lea"), ("Mohammed", "mohammed"), ("Nora", "nora"),
    ("Olivia", "olivia"), ("Pedro", "pedro"), ("Quentin", "quentin"), ("Rosa", "rosa"), ("Søren", "soren"),
    ("Tomás", "tomas"), ("Ursula", "ursula"), ("Valentina", "valentina"), ("Wei", "wei"), ("Xavier", "xavier"),
    ("Yuki", "yuki"), ("Zoë", "zoe"), ("太郎", "taro"), ("花子", "hanako"), ("明", "ming"), ("서연", "seoyeon"),
    ("Анна", "anna"), ("Björn", "bjorn"), ("Çelik", "celik"), ("Dagný", "dagny"), ("Ana", "ana"),
    ("Mary-Jane", "maryjane"), ("Conor", "conor"), ("Priya", "priya"), ("Oluwaseun", "oluwaseun"),
    ("Ève", "eve"),
)  # fmt: skip
LAST_NAMES = (
    ("Smith", "smith"), ("Müller", "muller"), ("García", "garcia"), ("Dubois", "dubois"), ("Rossi", "rossi"),
    ("Nowak", "nowak"), ("Johansson", "johansson"), ("O'Brien", "obrien"), ("Nguyễn", "nguyen"),
    ("Kowalski", "kowalski"), ("Yamada", "yamada"), ("山田", "yamada"), ("田中", "tanaka"), ("王", "wang"),
    ("李", "li"), ("김", "kim"), ("Иванов", "ivanov"), ("Øster", "oster"), ("Šimek", "simek"),
    ("Fernández", "fernandez"), ("Lefèvre", "lefevre"), ("Brown", "brown"), ("Wilson", "wilson"),
    ("Patel", "patel"), ("Okafor", "okafor"), ("Schröder", "schroder"), ("Van der Berg", "vanderberg"),
    ("Da Silva", "dasilva"), ("Łukasik", "lukasik"), ("Jensen", "jensen"),
)  # fmt: skip

WORDS = (
    "project",
    "plan",
    "release",
    "roadmap",
    "sprint",
    "retrospective",
    "architecture",
    "service",
    "database",
    "migration",
    "customer",
    "onboarding",
    "security",
    "review",
    "incident",
    "postmortem",
    "deployment",
    "pipeline",
    "metrics",
    "dashboard",
    "quarterly",
    "goals",
    "budget",
    "hiring",
    "design",
    "system",
    "api",
    "gateway",
    "cache",
    "latency",
    "throughput",
    "storage",
    "backup",
    "restore",
    "policy",
    "compliance",
    "audit",
    "vendor",
    "contract",
    "meeting",
    "notes",
    "decision",
    "owner",
    "status",
    "risk",
    "mitigation",
    "timeline",
    "milestone",
    "feedback",
    "survey",
    "analytics",
    "report",
    "summary",
    "overview",
    "guide",
    "how-to",
    "troubleshooting",
    "faq",
    "requirements",
    "specification",
    "prototype",
    "experiment",
    "rollout",
    "feature",
    "flag",
    "monitoring",
    "alert",
    "on-call",
    "runbook",
    "capacity",
    "forecast",
    "team",
    "culture",
    "offsite",
    "training",
    "documentation",
    "glossary",
    "template",
    "checklist",
)
# Words that make CSV writers and readers earn their keep.
AWKWARD_WORDS = (
    "café",
    "naïve",
    "façade",
    "Zürich",
    "São Paulo",
    "Ångström",
    "crème brûlée",
    "東京",
    "日本語",
    "数据管道",
    "한국어",
    "Москва",
    "Ελληνικά",
    "עברית",
    "العربية",
    "😀",
    "🚀",
    "✅",
    "🎉",
    "👩‍💻",
    "€100",
    "“smart quotes”",
    "it's",
    'the "quoted" word',
    "a, b, and c",
    "tab\there",
    "50% off",
    "<b>&amp;</b>",
)
LABELS = (
    "meeting-notes", "howto", "architecture", "decision", "release", "onboarding", "security", "faq",
    "draft", "team", "q1", "q2", "q3", "q4", "retro", "incident", "runbook", "roadmap", "kb", "design",
    "café", "データ", "needs-review", "archived", "api",
)  # fmt: skip
SPACE_WORDS = (
    ("Engineering", "ENG"), ("Marketing", "MKT"), ("Human Resources", "HR"), ("Product", "PROD"),
    ("Design", "DES"), ("Support", "SUP"), ("Sales", "SALES"), ("Finance", "FIN"), ("Legal", "LEGAL"),
    ("Operations", "OPS"), ("Data Platform", "DATA"), ("Security", "SEC"), ("Équipe Données", "EQD"),
    ("開発チーム", "DEV"), ("Research & Development", "RND"), ("Customer \"Success\"", "CS"),
    ("Platform, Infra", "INFRA"), ("Mobile", "MOB"), ("Documentation", "DOC"), ("Onboarding", "ONB"),
)  # fmt: skip
LINE_BREAKS = ("\n", "\n", "\n", "\r\n", "\r\n", "\r")

# One paragraph guaranteed in every space's home page, so even the tiny scale has every case.
AWKWARD_SAMPLE = (
    "<p>Every awkward case, on purpose: LF here\nCRLF here\r\nlone CR here\rand a tab\there; "
    'a "double-quoted" phrase, commas, like, these; apostrophes it\'s; accents café naïve Zürich; '
    "CJK 日本語 数据管道 한국어; emoji 😀 🚀 👩‍💻; a trailing backslash \\ and a semicolon;</p>"
)


def _sentence(rng: random.Random) -> str:
    words = rng.choices(WORDS, k=rng.randint(6, 16))
    if rng.random() < 0.5:
        words[rng.randrange(len(words))] = rng.choice(AWKWARD_WORDS)
    text = " ".join(words)
    if rng.random() < 0.3:
        text = text.replace(" ", ", ", 1)
    return text[0].upper() + text[1:] + rng.choice((".", ".", ".", "!", "?", "…"))


def _paragraph(rng: random.Random) -> str:
    kind = rng.random()
    sentences = [_sentence(rng) for _ in range(rng.randint(2, 6))]
    if kind < 0.6:
        # Line breaks inside a paragraph, in all three conventions.
        text = "".join(s + (rng.choice(LINE_BREAKS) if rng.random() < 0.3 else " ") for s in sentences)
        return f"<p>{text.rstrip()}</p>"
    if kind < 0.75:
        items = "".join(f"<li>{s}</li>" for s in sentences)
        return f"<ul>\n{items}\n</ul>"
    if kind < 0.85:
        cells = "".join(f"<td>{s}</td>" for s in sentences[:3])
        return f'<table class="wrapped"><tbody>\r\n<tr>{cells}</tr>\r\n</tbody></table>'
    if kind < 0.93:
        return (
            '<ac:structured-macro ac:name="info"><ac:rich-text-body>'
            f"<p>{' '.join(sentences)}</p></ac:rich-text-body></ac:structured-macro>"
        )
    code = "\n".join(f'\t{w} = "{w}",  # {i}' for i, w in enumerate(rng.choices(WORDS, k=5)))
    return (
        '<ac:structured-macro ac:name="code"><ac:plain-text-body><![CDATA['
        f"{code}\r\n]]></ac:plain-text-body></ac:structured-macro>"
    )


class TextPool:
    """Paragraphs, titles and comment texts pre-built from one seed; the per-row builders only pick and join."""

    def __init__(self, seed: int, size: int = 1024) -> None:
        rng = random.Random(f"demo-text-{seed}")
        self.paragraphs = [_paragraph(rng) for _ in range(size)]
        self.lengths = [len(p) for p in self.paragraphs]
        self.comment_texts = [" ".join(_sentence(rng) for _ in range(rng.randint(1, 4))) for _ in range(size)]
        self.version_comments = [_sentence(rng) for _ in range(64)] + [
            'Fixed typo in "Overview", reworded intro',
            "Line one\nline two",
            "Mis à jour: café ☕",
        ]

    def body(self, rng: random.Random, title: str, *, long: bool, awkward: bool) -> str:
        """A page body in storage format: a few KB, or more than 10,000 characters when ``long``."""
        parts = [f"<h1>{title}</h1>"]
        if awkward:
            parts.append(AWKWARD_SAMPLE)
        target = rng.randint(10_500, 30_000) if long else rng.randint(300, 3_500)
        size = 0
        n = len(self.paragraphs)
        while size < target:
            i = rng.randrange(n)
            parts.append(self.paragraphs[i])
            size += self.lengths[i] + 1
        return rng.choice(LINE_BREAKS).join(parts)

    def comment(self, rng: random.Random, *, long: bool) -> str:
        """A comment body: a sentence or a few, or more than 2,000 characters when ``long``."""
        if not long:
            return f"<p>{self.comment_texts[rng.randrange(len(self.comment_texts))]}</p>"
        parts: list[str] = []
        size = 0
        while size < 2_100:
            text = self.comment_texts[rng.randrange(len(self.comment_texts))]
            parts.append(f"<p>{text}</p>")
            size += len(text) + 8
        return "\n".join(parts)

    def title(self, rng: random.Random, *, blog: bool) -> str:
        words = rng.choices(WORDS, k=rng.randint(2, 6))
        if rng.random() < 0.15:
            words.append(rng.choice(AWKWARD_WORDS))
        title = " ".join(words).capitalize()
        if blog:
            return f"{rng.choice(('Weekly update:', 'News:', 'Announcing', 'Thoughts on'))} {title}"
        return title
