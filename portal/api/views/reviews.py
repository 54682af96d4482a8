"""A reviewer's assignments and scoring."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.api.common import IsReviewer, get_visible, paginate
from portal.api.serializers.applications import ReviewOut, ReviewSubmitIn
from portal.applications import services
from portal.applications.selectors import reviews_for_reviewer


class ReviewList(APIView):
    permission_classes = [IsReviewer]

    @extend_schema(responses=ReviewOut(many=True), summary="Reviewer: my assignments, pending first")
    def get(self, request):
        reviews = reviews_for_reviewer(request.user).order_by("-submitted_at", "assigned_at", "id")
        return paginate(self, request, reviews.order_by("submitted_at", "-assigned_at"), ReviewOut)


class ReviewDetail(APIView):
    permission_classes = [IsReviewer]

    @extend_schema(responses=ReviewOut)
    def get(self, request, public_id):
        return Response(ReviewOut(get_visible(reviews_for_reviewer(request.user), public_id)).data)


class ReviewSubmit(APIView):
    permission_classes = [IsReviewer]

    @extend_schema(
        request=ReviewSubmitIn,
        responses=ReviewOut,
        summary="Reviewer: score (or correct scores) while under review",
    )
    def post(self, request, public_id):
        review = get_visible(reviews_for_reviewer(request.user), public_id)
        data = ReviewSubmitIn(data=request.data)
        data.is_valid(raise_exception=True)
        review = services.review_submit(review=review, reviewer=request.user, **data.validated_data)
        return Response(ReviewOut(review).data)
