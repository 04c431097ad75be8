from django.urls import path

from improvement import views

app_name = "improvement"

urlpatterns = [
    path("", views.ImprovementHomeView.as_view(), name="home"),
    path("initiatives/", views.InitiativeListView.as_view(), name="initiative-list"),
    path("initiatives/new/", views.InitiativeCreateView.as_view(), name="initiative-create"),
    path("initiatives/<int:initiative_id>/", views.InitiativeDetailView.as_view(), name="initiative-detail"),
    path("suggestions/", views.SuggestionListView.as_view(), name="suggestion-list"),
    path("suggestions/<int:suggestion_id>/", views.SuggestionDetailView.as_view(), name="suggestion-detail"),
    path("feedback-rewards/", views.FeedbackRewardView.as_view(), name="feedback-rewards"),
    path("scorecards/", views.ScorecardListView.as_view(), name="scorecard-list"),
    path("reviews/", views.ReviewListView.as_view(), name="review-list"),
]
