"""The OpenADR 3 VTN's callbacks (outside any utility: the token names the source)."""

from django.urls import path

from dispatch.grid.openadr3.callbacks import CallbackView

urlpatterns = [
    path("callbacks/<str:token>", CallbackView.as_view(), name="openadr3_callback"),
]
