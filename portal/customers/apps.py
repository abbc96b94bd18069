from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "portal.customers"
    label = "customers"
    verbose_name = "Customers (service accounts)"
    # The models were enrollment's until the re-cut: audit rows written before name them
    # "enrollment.<model>" (see portal.audit.labels_of).
    former_app_label = "enrollment"
