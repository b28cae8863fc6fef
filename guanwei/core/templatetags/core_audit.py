"""Template filters for the audit log: readable action and object-type names."""

from django import template

from guanwei.core.audit import action_label, object_type_label

register = template.Library()
register.filter("action_label", action_label)
register.filter("object_type_label", object_type_label)
