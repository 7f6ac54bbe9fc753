from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model, password_validation
from django.db.models import QuerySet

from portal.models import ApiKey, AuditEvent, Customer, Organization
from portal.roles import Role

User = get_user_model()


class CustomerForm(forms.ModelForm):
    class Meta:
        model = Customer
        fields = ["name", "description", "contact_email"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args: Any, organization: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.organization = organization

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        clash = Customer.objects.filter(organization=self.organization, name__iexact=name)
        if self.instance.pk:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise forms.ValidationError("This organization already has a customer of that name.")
        return name


class NewUserFields(forms.Form):
    """A person to give access to: an existing username, or a new account with a password."""

    username = forms.CharField(max_length=150)
    email = forms.EmailField(required=False)
    password = forms.CharField(
        required=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="Needed only for a new account.",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        username = data.get("username", "").strip()
        self.existing_user = User.objects.filter(username=username).first()
        if self.existing_user is None and username:
            password = data.get("password") or ""
            if not password:
                self.add_error("password", "Set a password for the new account.")
            else:
                candidate = User(username=username, email=data.get("email", ""))
                try:
                    password_validation.validate_password(password, candidate)
                except forms.ValidationError as exc:
                    self.add_error("password", exc)
        return data

    def get_or_create_user(self) -> tuple[Any, bool]:
        if self.existing_user is not None:
            return self.existing_user, False
        data = self.cleaned_data
        user = User.objects.create_user(
            username=data["username"].strip(),
            email=data.get("email", ""),
            password=data["password"],
        )
        return user, True


class MemberAddForm(NewUserFields):
    role = forms.ChoiceField(choices=Role.choices, initial=Role.READONLY)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class ApiKeyForm(forms.ModelForm):
    class Meta:
        model = ApiKey
        fields = ["name", "read_only", "customer"]
        labels = {"read_only": "Read-only", "customer": "Limit to customer"}

    def __init__(self, *args: Any, customers: QuerySet[Customer], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["customer"].queryset = customers
        self.fields["customer"].empty_label = "All customers"
        self.fields["read_only"].help_text = "A read-only key can read but never change anything."


class AuditFilterForm(forms.Form):
    action = forms.ChoiceField(required=False)
    actor = forms.CharField(required=False, max_length=150)
    since = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, events: QuerySet[AuditEvent], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        actions = events.order_by().values_list("action", flat=True).distinct()
        self.fields["action"].choices = [("", "All actions")] + [(a, a) for a in sorted(actions)]

    def filter(self, events: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
        if not self.is_valid():
            return events
        data = self.cleaned_data
        if data["action"]:
            events = events.filter(action=data["action"])
        if data["actor"]:
            events = events.filter(actor_label__icontains=data["actor"])
        if data["since"]:
            events = events.filter(created_at__date__gte=data["since"])
        if data["until"]:
            events = events.filter(created_at__date__lte=data["until"])
        return events
