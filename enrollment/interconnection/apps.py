from django.apps import AppConfig


class InterconnectionConfig(AppConfig):
    name = "enrollment.interconnection"
    label = "interconnection"
    verbose_name = "Interconnection"
    # The models were the enrollment app's until interconnection became an app: audit rows
    # written before name them "enrollment.<model>" (see portal.audit.labels_of).
    former_app_label = "enrollment"
