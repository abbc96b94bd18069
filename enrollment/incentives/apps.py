from django.apps import AppConfig


class IncentivesConfig(AppConfig):
    name = "enrollment.incentives"
    label = "incentives"
    verbose_name = "Incentives"
    # The models were the enrollment app's until incentives became an app: audit rows
    # written before name them "enrollment.<model>" (see portal.audit.labels_of).
    former_app_label = "enrollment"
