"""The mailers' JSON API blueprint and the flask-smorest Api that documents it."""

from __future__ import annotations

from apispec.ext.marshmallow import MarshmallowPlugin, OpenAPIConverter
from apispec.ext.marshmallow.common import resolve_schema_instance
from flask_smorest import Api, Blueprint
from flask_smorest.spec.plugins import FlaskPlugin

from .schemas import Distinct, ErrorSchema, ItemOrAnything, OneOfFieldsSchema, RecipientId, TopicKey

blp = Blueprint("api", __name__, url_prefix="/api/v1", description="Preference checks, links, recipients and topics.")

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
    """flask-smorest, with our error shape in the document and our own error handlers (api/errors.py)."""

    ERROR_SCHEMA = ErrorSchema

    def __init__(self, app=None, **kwargs) -> None:
        marshmallow_plugin = DocumentedMarshmallowPlugin()
        plugins = {"marshmallow_plugin": marshmallow_plugin, "flask_plugin": DocumentedPathsPlugin(marshmallow_plugin)}
        super().__init__(app, spec_kwargs={**plugins, **kwargs.pop("spec_kwargs", {})}, **kwargs)

    def _register_error_handlers(self) -> None:
        pass


API_SETTINGS = {
    "API_TITLE": "prefs",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/api/v1",
    "OPENAPI_JSON_PATH": "openapi.json",
    "API_SPEC_OPTIONS": {
        "info": {
            "description": (
                "Marketing-communications preferences: ask before every send. Every refusal has the shape "
                "{error: {code, message, details}}. No text anywhere in a request may contain U+0000 (NUL) or "
                "half of a UTF-16 surrogate pair (422 invalid): no database stores them."
            )
        },
        "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
    },
}
