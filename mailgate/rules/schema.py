"""Shell: pydantic schema of rules, actions and operators (extra keys forbidden), used by rules_compile."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    model_validator,
)

from mailgate.core.model import Priority, RequestType


def _listify(value: object) -> object:
    return [value] if isinstance(value, str) else value


Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
TextList = Annotated[list[Text], BeforeValidator(_listify)]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ActionsSpec(_Spec):
    type: RequestType | None = None
    level: Annotated[StrictInt, Field(ge=1, le=4)] | None = None
    priority: Priority | None = None
    queue: Text | None = None
    assignee: Annotated[Text, Field(pattern=r"@|\{")] | None = None  # an address (or a {group} template)
    customer: Text | None = None
    tags: TextList = []
    auto_reply: Text | Literal[False] | None = None
    ignore: StrictBool | None = None
    quarantine: StrictBool | None = None
    notify: Annotated[list[Annotated[Text, Field(pattern=r"@|\{")]], BeforeValidator(_listify)] = []
    dedupe_key: Text | None = None
    recovery: StrictBool | None = None
    resolve: StrictBool | None = None

    @model_validator(mode="after")
    def _coherent(self) -> ActionsSpec:
        if self.resolve and not self.recovery:
            raise ValueError("resolve: true needs recovery: true in the same rule")
        if self.recovery and self.dedupe_key is None:
            raise ValueError("recovery: true needs a dedupe_key in the same rule (it names the alert)")
        return self


class RuleSpec(_Spec):
    name: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$", max_length=100)]
    description: str = ""
    when: Any = None  # compiled by hand below: field names are open-ended (header.<Name>)
    then: ActionsSpec = ActionsSpec()
    stop: StrictBool = False
    enabled: StrictBool = True


class OpSpec(_Spec):
    equals: StrictBool | StrictInt | str | None = None
    contains: str | Annotated[list[str], Field(min_length=1)] | None = None  # a list: any of them
    regex: str | None = None
    in_: Annotated[list[StrictInt | str], Field(min_length=1)] | None = Field(default=None, alias="in")
    exists: StrictBool | None = None
    case_sensitive: StrictBool = False

    @model_validator(mode="after")
    def _one_operator(self) -> OpSpec:
        given = [op for op in ("equals", "contains", "regex", "in_", "exists") if getattr(self, op) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one operator of equals, contains, regex, in, exists"
                             + (f" (got {', '.join(g.rstrip('_') for g in given)})" if given else ""))
        return self
