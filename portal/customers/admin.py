from django.contrib import admin

from portal.customers.models import ServiceAccount


@admin.register(ServiceAccount)
class ServiceAccountAdmin(admin.ModelAdmin):
    list_display = [
        "account_number",
        "customer_name",
        "utility",
        "zip_code",
        "feeder",
        "rate_class",
    ]
    list_filter = ["utility", "rate_class"]
    search_fields = ["account_number", "customer_name", "meter_id", "feeder"]
