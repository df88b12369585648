"""The executable schema: W&B's SDL (schema.graphql) with resolvers bound, and how errors are reported."""

import logging
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from graphql import (
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    GraphQLError,
    GraphQLSchema,
    Lexer,
    Source,
    StringValueNode,
    TokenKind,
    ValidationContext,
    build_schema,
    execute_sync,
    parse,
    specified_rules,
    validate,
)

from artifacts import jsonvalues
from registry_site import faults
from wandb_api.mutations import MUTATION
from wandb_api.resolvers import TYPES, Context, collection_type, creator_type

logger = logging.getLogger(__name__)


def _build() -> GraphQLSchema:
    schema = build_schema(Path(__file__).with_name("schema.graphql").read_text())
    for type_name, resolvers in {**TYPES, "Mutation": MUTATION}.items():
        fields = schema.type_map[type_name].fields
        for field_name, resolver in resolvers.items():
            fields[field_name].resolve = resolver
    schema.type_map["ArtifactCollection"].resolve_type = collection_type
    schema.type_map["ArtifactCreator"].resolve_type = creator_type
    return schema


SCHEMA = _build()
# The SDK's largest document selects about a hundred fields; thousands of aliased fields are an attack.
MAX_FIELDS = 1000


class MaxFieldsRule(ASTValidationRule):
    """Refuse documents that select more than MAX_FIELDS fields, before anything runs."""

    def __init__(self, context: ValidationContext) -> None:
        super().__init__(context)
        self.count = 0

    def enter_field(self, node: FieldNode, *_args: Any) -> None:
        self.count += 1
        if self.count == MAX_FIELDS + 1:
            self.report_error(GraphQLError(f"The document selects more than {MAX_FIELDS} fields."))


class ValidTextRule(ASTValidationRule):
    """Refuse string literals no database can store (unpaired surrogates, NUL), as jsonvalues does for variables."""

    def enter_string_value(self, node: StringValueNode, *_args: Any) -> None:
        try:
            jsonvalues.check(node.value, "document")
        except ValidationError as exc:
            self.report_error(GraphQLError(" ".join(exc.messages), node))


RULES = (*specified_rules, MaxFieldsRule, ValidTextRule)
# The parser and validator recurse once per level of braces, brackets and parentheses: bound both the tokens
# and the nesting (the SDK's documents nest about ten levels and hold a few thousand tokens).
MAX_TOKENS = 50_000
MAX_NESTING = jsonvalues.MAX_DEPTH
OPENING = {TokenKind.BRACE_L, TokenKind.BRACKET_L, TokenKind.PAREN_L}
CLOSING = {TokenKind.BRACE_R, TokenKind.BRACKET_R, TokenKind.PAREN_R}


def check_nesting(query: str) -> None:
    """Raise a GraphQLError when the document nests deeper than MAX_NESTING, reading tokens without recursion."""
    lexer, level, count = Lexer(Source(query)), 0, 0
    while (token := lexer.advance()).kind != TokenKind.EOF:
        count += 1
        if count > MAX_TOKENS:
            raise GraphQLError(f"The document has more than {MAX_TOKENS} tokens.")
        if token.kind in OPENING:
            level += 1
            if level > MAX_NESTING:
                raise GraphQLError(f"The document nests more than {MAX_NESTING} levels deep.")
        elif token.kind in CLOSING:
            level -= 1


def format_error(error: GraphQLError) -> dict[str, Any]:
    """A GraphQL error; domain refusals keep their message, anything unexpected is logged and hidden."""
    formatted = error.formatted
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        return formatted
    if isinstance(original, Http404):
        formatted["message"] = f"not found: {original}" if str(original) else "not found"
        formatted["extensions"] = {"code": "NOT_FOUND"}
    elif isinstance(original, PermissionDenied):
        formatted["message"] = f"permission denied: {original}" if str(original) else "permission denied"
        formatted["extensions"] = {"code": "PERMISSION_ERROR"}
    elif isinstance(original, ValidationError):
        formatted["message"] = " ".join(original.messages)
        formatted["extensions"] = {"code": "BAD_USER_INPUT"}
    else:
        logger.error("GraphQL resolver failed", exc_info=original)
        formatted["message"] = "internal error"
        formatted["extensions"] = {"code": "INTERNAL_SERVER_ERROR"}
    return formatted


# Parsed and validated documents by their text: the SDK sends the same few dozen documents over and over, and
# parsing and validating one costs more than running it. Only documents up to CACHED_TEXT characters are kept,
# so the cache stays small whatever a client sends.
CACHED_DOCUMENTS = 512
CACHED_TEXT = 64 * 1024


# What a newer SDK may send that this schema lacks, as graphql-core 3.2 words it: a field (a root field is an
# operation, such as a new mutation), an argument, a type of a variable, or a field of an input object (in the
# document, or in a variable's value when the document runs).
UNKNOWN_NAME = re.compile(
    r"Cannot query field '(?P<field>[^']+)' on type '(?P<type>[^']+)'\."
    r"|Unknown argument '(?P<argument>[^']+)' on field '(?P<on_field>[^']+)'\."
    r"|Unknown type '(?P<unknown_type>[^']+)'\."
    r"|(?:Variable '\$\w+' got invalid value .*; )?"
    r"Field '(?P<input_field>[^']+)' is not defined by type '(?P<input_type>[^']+)'\.",
    re.DOTALL,
)
# Each unknown name is logged once per process; past this many names new ones are not logged, so a client making
# up names grows neither this set nor the log without bound.
MAX_LOGGED_UNKNOWN = 1000
_logged_unknown: set[str] = set()


def log_unknown_names(errors: list[GraphQLError]) -> None:
    """Log, once per process, each field, argument or type a client sent that the schema does not have."""
    for error in errors:
        match = UNKNOWN_NAME.match(error.message)
        if match is None:
            continue
        if match["field"]:
            name = f"field {match['type']}.{match['field']}"
        elif match["input_field"]:
            name = f"field {match['input_type']}.{match['input_field']}"
        elif match["argument"]:
            name = f"argument {match['argument']} of {match['on_field']}"
        else:
            name = f"type {match['unknown_type']}"
        if name not in _logged_unknown and len(_logged_unknown) < MAX_LOGGED_UNKNOWN:
            _logged_unknown.add(name)
            logger.warning("A client sent the unknown GraphQL %s; it was answered with an error (logged once)", name)


def _prepare(query: str) -> DocumentNode | list[GraphQLError]:
    """The document, parsed and validated, or what is wrong with it."""
    try:
        check_nesting(query)
        document = parse(query, max_tokens=MAX_TOKENS)
    except GraphQLError as error:
        return [error]
    errors = validate(SCHEMA, document, RULES)
    log_unknown_names(errors)
    return errors or document


_prepare_cached = lru_cache(maxsize=CACHED_DOCUMENTS)(_prepare)


def prepare(query: str) -> DocumentNode | list[GraphQLError]:
    return _prepare_cached(query) if len(query) <= CACHED_TEXT else _prepare(query)


def execute(
    query: str, variables: dict[str, Any] | None, operation_name: str | None, context: Context
) -> dict[str, Any]:
    """Run one document; the result is the response body (`data` and/or `errors`)."""
    document = prepare(query)
    if isinstance(document, list):
        return {"errors": [format_error(e) for e in document]}
    result = execute_sync(
        SCHEMA, document, variable_values=variables, operation_name=operation_name, context_value=context
    )
    log_unknown_names(result.errors or [])
    for error in result.errors or ():
        # A fault of the store or the database is the request's answer (503 with a reason, see
        # registry_site/faults.py), not a GraphQL error the SDK would take as final or retry blindly.
        if error.original_error is not None and faults.classify(error.original_error):
            raise error.original_error
    body: dict[str, Any] = {}
    if result.errors:
        body["errors"] = [format_error(e) for e in result.errors]
        logger.info("GraphQL errors: %s", "; ".join(e["message"] for e in body["errors"]))
    if result.data is not None or not result.errors:
        body["data"] = result.data
    return body
