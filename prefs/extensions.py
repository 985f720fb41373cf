"""Extensions, created unbound here and bound to an app in the factory."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from .rate_keys import place_of

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
# The models' base class. At run time it is db.Model: Flask-SQLAlchemy's mixins over Base, sharing its
# metadata and registry. db.Model is a value to a type checker, not a class, so it checks against Base.
if TYPE_CHECKING:
    Model = Base
else:
    Model = db.Model
migrate = Migrate()
login_manager = LoginManager()  # staff sessions in the console
csrf = CSRFProtect()  # every console form; the API, recipient pages and webhooks are exempt (no cookies there)
# No default limits: each limit is declared where it protects something (login, webhooks, public pages).


def client_place() -> str:
    """The key of every per-place limit: the client's address as the proxy settings give it, or its /64."""
    return place_of(get_remote_address())


limiter = Limiter(key_func=client_place, default_limits=[])
