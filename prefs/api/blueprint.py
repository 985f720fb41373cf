"""The mailers' JSON API blueprint and the flask-smorest Api that documents it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from apispec.ext.marshmallow import MarshmallowPlugin, OpenAPIConverter
from apispec.ext.marshmallow.common import resolve_schema_instance
from flask import Response, render_template, url_for
from flask_smorest import Api, Blueprint
from flask_smorest.spec.plugins import FlaskPlugin

from .reference import (
    INTRODUCTION,
    REDOC_BUNDLE,
    REFERENCE_PAGE_HEADERS,
    REFUSALS,
    SECURITY_SCHEME,
    TAGS,
    Access,
    Refusal,
    error_responses,
    other_error_response,
    refusals_of,
    scope_sentence,
)
from .schemas import Distinct, ErrorSchema, ItemOrAnything, OneOfFieldsSchema, RecipientId, TopicKey


def annotate(view: Callable, **facts: Any) -> Callable:
    """Record facts about a view for its operation in the document, where flask-smorest keeps its own."""
    view._apidoc = {**getattr(view, "_apidoc", {}), **facts}  # type: ignore[attr-defined]
    return view


class PrefsBlueprint(Blueprint):
    """flask-smorest's Blueprint, which also documents what each view declares with `authorized` (its scope
    and body rule) and `refuses` (its error codes): the scope enforced is the scope documented."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._prepare_doc_cbks.append(self._prepare_access_doc)

    @staticmethod
    def _prepare_access_doc(doc: dict, doc_info: dict, *, method: str, **kwargs) -> dict:
        access: Access | None = doc_info.get("access")
        if access is None:
            raise TypeError(f"an API view ({method.upper()} {doc.get('summary')!r}) without authorized(scope): who may call it?")
        doc["security"] = [{"bearerAuth": [access.scope]}]
        doc["x-required-scope"] = access.scope
        docstring = doc_info["docstring"]  # flask-smorest adds it after these callbacks; this copy is the operation's
        docstring["description"] = "\n\n".join(filter(None, [docstring.get("description"), scope_sentence(access.scope)]))
        reads_input = bool(doc_info.get("arguments")) or access.body != "none"
        refusals = refusals_of(access, reads_input, doc_info.get("refusals", {}))
        responses = {str(status): response for status, response in doc.get("responses", {}).items()}
        responses.update(error_responses(refusals))
        doc["responses"] = dict(sorted(responses.items(), key=lambda item: (item[0] == "default", item[0])))
        return doc


def refuses(*codes: str, **explained: Refusal | str) -> Callable[[Callable], Callable]:
    """Document the codes a view's services can refuse with, besides those of `authorized` and of its input
    (those are documented already). A keyword says, for this operation, when its code happens; a Refusal
    also gives the example's message and details. Adds nothing to the view: no cost per request."""
    declared = {code: REFUSALS[code] for code in codes}
    for code, given in explained.items():
        declared[code] = given if isinstance(given, Refusal) else REFUSALS[code].because(given)

    def decorator(view: Callable) -> Callable:
        return annotate(view, refusals={**getattr(view, "_apidoc", {}).get("refusals", {}), **declared})

    return decorator


blp = PrefsBlueprint("api", __name__, url_prefix="/api/v1")

# Path parameters are documented from the same fields the bodies use: a route says only `<string:…>`.
PATH_PARAMETERS = {"recipient_id": RecipientId(), "key": TopicKey()}


class SchemaConverter(OpenAPIConverter):
    """apispec's marshmallow converter, taught the parts of api/schemas.py it cannot read from a field."""

    def init_attribute_functions(self) -> None:
        super().init_attribute_functions()
        self.add_attribute_function(distinct_items)
        self.add_attribute_function(item_or_anything)

    def field2nullable(self, field, ret) -> dict:
        attributes = super().field2nullable(field, ret)
        for branch in attributes.get("anyOf", ()):
            if branch.get("nullable"):  # OpenAPI 3.0's "or null" beside a $ref: null only, not any object
                branch["enum"] = [None]
        return attributes

    def schema2jsonschema(self, schema) -> dict:
        jsonschema = super().schema2jsonschema(schema)
        alternatives = getattr(schema, "exactly_one_of", ())
        if alternatives:  # non-null fields, so "exactly one given" is "exactly one required branch holds"
            jsonschema["oneOf"] = [{"required": [name]} for name in alternatives]
            given = getattr(schema, "when_given", {})
            if given:  # with exactly one given, "one branch holds" is "the one given holds what comes with it"
                jsonschema["anyOf"] = [{"required": [name], **given.get(name, {})} for name in alternatives]
        return jsonschema

    def schema2parameters(self, schema, *, location, **kwargs) -> list[dict]:
        instance = resolve_schema_instance(schema)
        if location != "query" or not isinstance(instance, OneOfFieldsSchema) or not instance.exactly_one_of:
            return super().schema2parameters(schema, location=location, **kwargs)
        alternatives = instance.exactly_one_of
        # Separate query parameters cannot say "exactly one of these"; one exploded object parameter can, and it
        # puts the same `email=…` or `phone=…` on the wire. Other query parameters are ignored (webargs), hence
        # additionalProperties.
        if set(instance.fields) != set(alternatives):
            raise TypeError(f"{type(instance).__name__}: a query schema with alternatives must hold only them")
        schema = self.schema2jsonschema(instance)
        schema["additionalProperties"] = True
        return [
            {
                "in": "query",
                "name": "one_of",
                "required": True,
                "style": "form",
                "explode": True,
                "description": instance.one_of_message(),
                "schema": schema,
            }
        ]


def distinct_items(self, field, **kwargs) -> dict:
    return {"uniqueItems": True} if any(isinstance(validator, Distinct) for validator in field.validators) else {}


def item_or_anything(self, field, **kwargs) -> dict:
    if not isinstance(field, ItemOrAnything):
        return {}
    return {"anyOf": [self.resolve_nested_schema(field.schema), {"description": field.otherwise}]}


class DocumentedMarshmallowPlugin(MarshmallowPlugin):
    Converter = SchemaConverter


class DocumentedPathsPlugin(FlaskPlugin):
    """flask-smorest's path plugin, with the path parameters of PATH_PARAMETERS documented from their fields."""

    def __init__(self, marshmallow_plugin: MarshmallowPlugin) -> None:
        super().__init__()
        self.marshmallow_plugin = marshmallow_plugin

    def rule_to_params(self, rule) -> list[dict]:
        params = super().rule_to_params(rule)
        converter = self.marshmallow_plugin.converter
        if converter is None:  # the plugin makes it when the spec starts, before any path is documented
            raise RuntimeError("the marshmallow plugin has no converter yet")
        for param in params:
            field = PATH_PARAMETERS.get(param["name"])
            if field is not None:
                param["schema"] = converter.field2property(field)
        return params


class PrefsApi(Api):
    """flask-smorest, with our error shape in the document, our own error handlers (api/errors.py) and the
    rendered reference at /api/v1/docs (Redoc, served from static/vendor/redoc/)."""

    ERROR_SCHEMA = ErrorSchema
    DEFAULT_ERROR_RESPONSE_NAME = "OtherError"

    def __init__(self, app=None, **kwargs) -> None:
        marshmallow_plugin = DocumentedMarshmallowPlugin()
        plugins = {"marshmallow_plugin": marshmallow_plugin, "flask_plugin": DocumentedPathsPlugin(marshmallow_plugin)}
        super().__init__(app, spec_kwargs={**plugins, **kwargs.pop("spec_kwargs", {})}, **kwargs)

    def _register_error_handlers(self) -> None:
        pass

    def _register_responses(self) -> None:
        super()._register_responses()
        self.spec.components.response(self.DEFAULT_ERROR_RESPONSE_NAME, other_error_response(), lazy=True)

    def _openapi_redoc(self) -> Response:
        page = render_template(
            "api/reference.html",
            title=self.spec.title,
            spec_url=url_for(f"{self._make_doc_blueprint_name()}.openapi_json"),
            redoc_url=url_for("static", filename=REDOC_BUNDLE),
        )
        return Response(page, headers=REFERENCE_PAGE_HEADERS, mimetype="text/html")


API_SETTINGS = {
    "API_TITLE": "prefs",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/api/v1",
    "OPENAPI_JSON_PATH": "openapi.json",
    "OPENAPI_REDOC_PATH": "docs",
    "OPENAPI_REDOC_URL": REDOC_BUNDLE,  # flask-smorest registers the page only with a URL; ours is url_for'd
    "API_SPEC_OPTIONS": {
        "info": {"description": INTRODUCTION},
        "tags": TAGS,  # replaces flask-smorest's one tag per blueprint: operations are grouped by subject
        "components": {"securitySchemes": {"bearerAuth": SECURITY_SCHEME}},
    },
}
