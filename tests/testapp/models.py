from django.db import models
from django.utils import timezone


class Project(models.Model):
    key = models.CharField(max_length=20, unique=True)
    name = models.CharField(max_length=200)

    def __str__(self) -> str:
        return self.key


class Ticket(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="tickets")
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True, default="")
    resolved = models.BooleanField(null=True)  # None: not triaged yet
    updated = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.title
