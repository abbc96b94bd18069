from __future__ import annotations

from django import forms

from portal.customers.services import MAX_UPLOAD_BYTES, check_upload


class CustomerImportForm(forms.Form):
    file = forms.FileField(
        label="Customer CSV",
        help_text=(
            f"A CSV extract, UTF-8, at most {MAX_UPLOAD_BYTES // (1024 * 1024)} MB. Columns: "
            "account_number (required), customer_name, premise_address, city, state, zip_code, "
            "meter_id, rate_class, tariff, email, phone, smart_meter, income_qualified, "
            "medical_need, feeder."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        problem = check_upload(
            name=upload.name, size=upload.size, content_type=upload.content_type or ""
        )
        if problem:
            raise forms.ValidationError(problem)
        return upload
