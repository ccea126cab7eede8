from django.contrib import admin

from .models import AnalyticsEvent, Comment, Content, Profile, Space


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "full_name", "user_key"]
    search_fields = ["user__username", "full_name", "user_key"]
    raw_id_fields = ["user"]


@admin.register(Space)
class SpaceAdmin(admin.ModelAdmin):
    list_display = ["key", "name", "space_type", "status", "updated"]
    list_filter = ["space_type", "status"]
    search_fields = ["key", "name"]
    raw_id_fields = ["homepage", "creator", "last_modifier"]


@admin.register(Content)
class ContentAdmin(admin.ModelAdmin):
    list_display = ["id", "title", "content_type", "space", "status", "version", "updated"]
    list_filter = ["content_type", "status"]
    search_fields = ["title"]
    raw_id_fields = ["space", "parent", "creator", "last_modifier"]
    show_full_result_count = False


@admin.register(Comment)
class CommentAdmin(admin.ModelAdmin):
    list_display = ["id", "content", "location", "updated"]
    list_filter = ["location"]
    raw_id_fields = ["content", "parent", "creator", "last_modifier"]
    show_full_result_count = False


@admin.register(AnalyticsEvent)
class AnalyticsEventAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "created", "space"]
    list_filter = ["name"]
    raw_id_fields = ["author", "space"]
    show_full_result_count = False
